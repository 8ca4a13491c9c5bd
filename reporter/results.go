package reporter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ResultsFileVersion is the "v" of results.json.
const ResultsFileVersion = 2

// ResultsFile is results.json: every crate version with at least one result.
// Everything in it derives from the results and the experiment's record,
// except Updated, so a reporter that replays the same results writes the
// same file.
type ResultsFile struct {
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
	// pending, confirmed, flaky, cleared or reproduced.
	Confirmation string `json:"confirmation,omitempty"`
	// Results holds the latest attempt of each toolchain that has one, in
	// the order of ResultsFile.Toolchains.
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
	// Log is the object key of the attempt's log relative to the
	// experiment's prefix, so relative to results.json itself; empty when
	// the result named no usable log.
	Log string `json:"log"`
}

func (cs *crateState) result() CrateResult {
	c := CrateResult{Name: cs.key.name, Version: cs.key.version, Class: cs.v.Class, Note: cs.v.Note,
		Root: cs.v.Root, Confirmation: cs.v.Confirmation, Results: cs.runs.results()}
	for i := range cs.reruns {
		c.Reruns = append(c.Reruns, cs.reruns[i].results())
	}
	return c
}

func (p *pair) results() []RunResult {
	out := make([]RunResult, 0, 2)
	for _, r := range p {
		if r != nil {
			out = append(out, runResult(r))
		}
	}
	return out
}

// entry is cs's results.json entry, encoded once per change.
func (cs *crateState) entry() ([]byte, error) {
	if cs.json == nil {
		b, err := json.Marshal(cs.result())
		if err != nil {
			return nil, fmt.Errorf("encode %s@%s: %w", cs.key.name, cs.key.version, err)
		}
		cs.json = b
	}
	return cs.json, nil
}

// header is results.json without its crates.
func (e *experiment) header(now time.Time) *ResultsFile {
	rate, eta := e.rate()
	return &ResultsFile{
		V:             ResultsFileVersion,
		Experiment:    e.name,
		Toolchains:    slices.Clone(e.rec.Toolchains),
		Mode:          e.rec.Mode,
		TotalJobs:     e.rec.Jobs,
		DoneJobs:      e.done,
		RatePerMinute: rate,
		ETASeconds:    eta,
		Classes:       maps.Clone(e.classes),
		Confirmations: e.confirmations,
		Updated:       now.UTC(),
		State:         e.rec.State,
	}
}

// rate is builds per minute between the first and the last finish time,
// rounded to a tenth, and the seconds the remaining builds take at it.
func (e *experiment) rate() (perMinute float64, etaSeconds int64) {
	span := e.lastFinished.Sub(e.firstFinished)
	if e.done < 2 || span <= 0 {
		return 0, 0
	}
	perMinute = math.Round(float64(e.done-1)/span.Minutes()*10) / 10
	if perMinute <= 0 {
		return 0, 0
	}
	left := max(e.rec.Jobs-e.done, 0)
	return perMinute, int64(math.Round(float64(left) / perMinute * 60))
}

// resultsJSON returns results.json as parts to write one after the other:
// the header, then every crate's cached entry. Only crates that changed
// since the last write are encoded; the rest is a list of references.
func (e *experiment) resultsJSON(now time.Time) (net.Buffers, error) {
	head, err := json.Marshal(e.header(now))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ResultsKey(e.name), err)
	}
	head, ok := bytes.CutSuffix(head, []byte("null}"))
	if !ok {
		return nil, fmt.Errorf("encode %s: crates is not the last field", ResultsKey(e.name))
	}
	parts := make(net.Buffers, 0, 2*len(e.crates)+2)
	parts = append(parts, append(head, '['))
	n := 0
	for _, pfx := range e.prefixes {
		for _, cs := range e.pages[pfx].rows {
			b, err := cs.entry()
			if err != nil {
				return nil, err
			}
			if n > 0 {
				parts = append(parts, comma)
			}
			parts = append(parts, b)
			n++
		}
	}
	return append(parts, []byte("]}\n")), nil
}

var comma = []byte(",")

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

// ConfigFile is config.json: the experiment as it was created, and how the
// reporter judges it.
type ConfigFile struct {
	V             int                `json:"v"`
	Experiment    streams.Experiment `json:"experiment"`
	Confirmations int                `json:"confirmations"`
}

func (e *experiment) configJSON() ([]byte, error) {
	b, err := json.MarshalIndent(ConfigFile{V: ResultsFileVersion, Experiment: *e.rec, Confirmations: e.confirmations}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config.json of %s: %w", e.name, err)
	}
	return append(b, '\n'), nil
}
