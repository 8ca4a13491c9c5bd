package reporter

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/streams"
)

// The crater view (package craterview) under <exp>/crater/: the reporter
// writes its results.json, config.json and retry-regressed-list.txt with
// every report; its log archives and log.txt copies come with ejecta's log
// archives once the experiment is finished (archives.go).
const (
	craterResultsFileName   = craterview.Dir + craterview.ResultsFile
	craterConfigFileName    = craterview.Dir + craterview.ConfigFile
	craterRetryListFileName = craterview.Dir + craterview.RetryListFile
)

// craterEntry is cs's entry in crater's results.json, encoded once per
// change.
func (cs *crateState) craterEntry(scratch *[]byte) []byte {
	if cs.crater == nil {
		var runs [2]*craterview.Run
		for i, r := range cs.runs {
			if r != nil {
				runs[i] = &craterview.Run{Toolchain: r.Toolchain, Status: r.Status, Reason: r.Reason}
			}
		}
		// Encoded into scratch and cloned, as the results.json entry is
		// (entry).
		*scratch = craterview.AppendCrateEntry((*scratch)[:0], cs.key.name, cs.key.version, cs.v.Class, runs)
		cs.crater = bytes.Clone(*scratch)
	}
	return cs.crater
}

// craterResults returns crater's results.json as parts to write one after
// the other, and its retry-regressed-list.txt, in the order of results.json.
// Crates come in the report's order, not sorted by crater's crate id:
// crater's readers key on the fields, not the order.
func (e *experiment) craterResults() (net.Buffers, []byte) {
	parts := make(net.Buffers, 0, 2*len(e.crates)+2)
	parts = append(parts, []byte(`{"crates":[`))
	var retry strings.Builder
	n := 0
	var scratch []byte // each changed crate's entry, encoded in turn
	for _, pfx := range e.prefixes {
		for _, cs := range e.pages[pfx].rows {
			b := cs.craterEntry(&scratch)
			if n > 0 {
				parts = append(parts, comma)
			}
			parts = append(parts, b)
			n++
			if craterview.Retried(cs.v.Class) {
				retry.WriteString(cs.key.name + "\n")
			}
		}
	}
	return append(parts, []byte("]}")), []byte(retry.String())
}

// craterConfigJSON is crater's config.json for e. It changes when the
// experiment ends, so it is written with every report, not once.
func (e *experiment) craterConfigJSON() ([]byte, error) {
	end := craterview.Ended{Ended: e.finished() || e.rec.State == streams.ExperimentAborted, At: e.lastFinished}
	b, err := craterview.Config(e.rec, end)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", e.name, err)
	}
	return b, nil
}
