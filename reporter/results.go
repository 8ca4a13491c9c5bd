package reporter

import (
	"slices"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ResultsFileVersion is the "v" of results.json.
const ResultsFileVersion = 1

// ResultsFile is results.json: every crate version with at least one result.
type ResultsFile struct {
	V          int          `json:"v"`
	Experiment string       `json:"experiment"`
	Toolchains []string     `json:"toolchains"` // baseline first
	Mode       streams.Mode `json:"mode"`
	TotalJobs  int          `json:"total_jobs"`
	DoneJobs   int          `json:"done_jobs"`
	// Updated is when the reporter wrote the file.
	Updated time.Time `json:"updated"`
	// Crates are sorted by name, then by version (semver order).
	Crates []CrateResult `json:"crates"`
}

// CrateResult is one crate version. Class is ClassPending until both
// toolchains have a result.
type CrateResult struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Class   Class  `json:"class"`
	Note    string `json:"note"`
	// Results holds the latest attempt of each toolchain that has one, in
	// the order of ResultsFile.Toolchains.
	Results []RunResult `json:"results"`
}

// RunResult is the latest attempt of one build.
type RunResult struct {
	Toolchain  string         `json:"toolchain"`
	Status     streams.Status `json:"status"`
	Reason     string         `json:"reason"`
	Attempt    int            `json:"attempt"`
	ExitCode   int            `json:"exit_code"`
	DurationMS int64          `json:"duration_ms"`
	// Log is the object key of the attempt's log relative to the
	// experiment's prefix, so relative to results.json itself; empty when
	// the result named no usable log.
	Log string `json:"log"`
}

// resultsFile builds the report of e, which must have its record. It walks
// every crate: a full rebuild on each write.
func (e *experiment) resultsFile(now time.Time) *ResultsFile {
	f := &ResultsFile{
		V:          ResultsFileVersion,
		Experiment: e.name,
		Toolchains: slices.Clone(e.rec.Toolchains),
		Mode:       e.rec.Mode,
		TotalJobs:  e.rec.Jobs,
		DoneJobs:   e.done,
		Updated:    now.UTC(),
		Crates:     make([]CrateResult, 0, len(e.crates)),
	}
	for k, cs := range e.crates {
		c := CrateResult{Name: k.name, Version: k.version, Class: cs.cmp.Class, Note: cs.cmp.Note,
			Results: make([]RunResult, 0, 2)}
		for _, r := range cs.runs {
			if r != nil {
				c.Results = append(c.Results, runResult(r))
			}
		}
		f.Crates = append(f.Crates, c)
	}
	slices.SortFunc(f.Crates, func(a, b CrateResult) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return compareVersions(a.Version, b.Version)
	})
	return f
}

func runResult(r *streams.Result) RunResult {
	return RunResult{
		Toolchain:  r.Toolchain,
		Status:     r.Status,
		Reason:     r.Reason,
		Attempt:    r.Attempt,
		ExitCode:   r.ExitCode,
		DurationMS: r.DurationMS,
		Log:        logKey(r.LogKey),
	}
}

// logKey returns key if it is a safe relative link to a stored log, else "".
// Builders set it to streams.LogObjectKey, which always passes; anything
// else (an absolute URL, "..", a "javascript:" scheme) is not worth linking.
func logKey(key string) string {
	if !strings.HasPrefix(key, "logs/") || store.ValidateKey(key) != nil {
		return ""
	}
	return key
}
