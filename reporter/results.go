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

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

func (cs *crateState) result() results.CrateResult {
	c := results.CrateResult{Name: cs.key.name, Version: cs.key.version, Class: cs.v.Class, Note: cs.v.Note,
		Root: cs.v.Root, Confirmation: cs.v.Confirmation, KnownFrom: cs.known(), Results: cs.results(&cs.runs)}
	for i := range cs.reruns {
		c.Reruns = append(c.Reruns, cs.results(&cs.reruns[i]))
	}
	return c
}

func (cs *crateState) results(p *pair) []results.RunResult {
	out := make([]results.RunResult, 0, 2)
	for _, r := range p {
		if r != nil {
			out = append(out, cs.runResult(r))
		}
	}
	return out
}

// entry is cs's results.json entry, encoded once per change.
func (cs *crateState) entry(scratch *[]byte) []byte {
	if cs.json == nil {
		// Encoded into scratch, a buffer the write's crates share, then
		// cloned at its length: a crater run keeps 700k entries, and
		// appending each to a buffer of its own grew it many times.
		c := cs.result()
		*scratch = c.AppendJSON((*scratch)[:0])
		cs.json = bytes.Clone(*scratch)
	}
	return cs.json
}

// header is results.json without its crates.
func (e *experiment) header(now time.Time) *results.File {
	rate, eta := e.rate()
	return &results.File{
		V:             results.FileVersion,
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
		return nil, fmt.Errorf("encode %s: %w", results.Key(e.name), err)
	}
	head, ok := bytes.CutSuffix(head, []byte("null}"))
	if !ok {
		return nil, fmt.Errorf("encode %s: crates is not the last field", results.Key(e.name))
	}
	parts := make(net.Buffers, 0, 2*len(e.crates)+2)
	parts = append(parts, append(head, '['))
	n := 0
	var scratch []byte // each changed crate's entry, encoded in turn
	for _, pfx := range e.prefixes {
		for _, cs := range e.pages[pfx].rows {
			b := cs.entry(&scratch)
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

func (cs *crateState) runResult(r *kept) results.RunResult {
	return results.RunResult{
		Toolchain:    r.Toolchain,
		Status:       r.Status,
		Reason:       r.Reason,
		Attempt:      r.Attempt,
		ExitCode:     r.ExitCode,
		DurationMS:   r.DurationMS,
		SharedTarget: r.SharedTarget,
		FirstError:   r.FirstError,
		Log:          logKey(cs.resultLog(r)),
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
	b, err := json.MarshalIndent(ConfigFile{V: results.FileVersion, Experiment: *e.rec, Confirmations: e.confirmations}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config.json of %s: %w", e.name, err)
	}
	return append(b, '\n'), nil
}
