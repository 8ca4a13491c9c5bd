package results

import (
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// FileName is results.json's name under an experiment's prefix.
const FileName = "results.json"

// Key is the object key of experiment exp's results.json.
func Key(exp string) string { return streams.ExperimentPrefix(exp) + FileName }

// FileVersion is the "v" of results.json.
const FileVersion = 2

// File is results.json: every crate version with at least one result.
// Everything in it derives from the results and the experiment's record,
// except Updated, so a reporter that replays the same results writes the
// same file.
type File struct {
	V          int          `json:"v"`
	Experiment string       `json:"experiment"`
	Toolchains []string     `json:"toolchains"` // baseline first
	Mode       streams.Mode `json:"mode"`
	TotalJobs  int          `json:"total_jobs"`
	DoneJobs   int          `json:"done_jobs"`
	// RatePerMinute is builds finished per minute, from the first to the
	// last finish time of a result; ETASeconds is the rest at that rate.
	// Both are zero until two results finished at different times.
	RatePerMinute float64 `json:"rate_per_minute"`
	ETASeconds    int64   `json:"eta_seconds"`
	// Classes counts crate versions with both results by class.
	Classes map[Class]int `json:"classes"`
	// Confirmations is how many re-runs confirm a regression (0: none).
	Confirmations int `json:"confirmations"`
	// Updated is when the reporter wrote the file.
	Updated time.Time `json:"updated"`
	// State is the experiment record's: "aborted" once `experiment abort`
	// stopped it (its crates are what it had then), else empty.
	State streams.ExperimentState `json:"state,omitempty"`
	// Crates are sorted by lower-case name, then name, then version
	// (semver order). Crates must stay the last field: the file is written
	// as this header followed by each crate's cached entry.
	Crates []CrateResult `json:"crates"`
}

// CrateResult is one crate version. Class is ClassPending until both
// toolchains have a result.
type CrateResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Class   Class  `json:"class"`
	Note    string `json:"note"`
	// Root is the dependency a depends-on(...) regression or fix is
	// grouped under in index.html; empty for a root cause.
	Root string `json:"root,omitempty"`
	// Confirmation is where a regression stands with its re-runs:
	// pending, confirmed, root-confirmed, flaky, cleared or reproduced.
	Confirmation string `json:"confirmation,omitempty"`
	// KnownFrom is the experiment's baseline (streams.Experiment.Baseline)
	// when the crate regressed there too: a regression already known.
	KnownFrom string `json:"known_from,omitempty"`
	// Results holds the latest attempt of each toolchain that has one, in
	// the order of File.Toolchains.
	Results []RunResult `json:"results"`
	// Reruns holds the confirmation re-runs, round by round, each like
	// Results.
	Reruns [][]RunResult `json:"reruns,omitempty"`
}

// RunResult is the latest attempt of one build.
type RunResult struct {
	Toolchain  string         `json:"toolchain"`
	Status     streams.Status `json:"status"`
	Reason     streams.Reason `json:"reason"`
	Attempt    int            `json:"attempt"`
	ExitCode   int            `json:"exit_code"`
	DurationMS int64          `json:"duration_ms"`
	// SharedTarget says the attempt built in its builder slot's shared
	// cargo target dir, which other crates' build scripts could write to
	// (streams.Result.SharedTarget); confirmation re-runs never do.
	SharedTarget bool `json:"shared_target,omitempty"`
	// FirstError is the first error the build printed, when its builder
	// saw one (streams.Result.FirstError).
	FirstError *streams.FirstError `json:"first_error,omitempty"`
	// Log is the object key of the attempt's log relative to the
	// experiment's prefix, so relative to results.json itself; empty when
	// the result named no usable log.
	Log string `json:"log"`
}
