package reporter

import (
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// The whole files are those with every crate of the experiment in them:
// results.json, the crater view's results.json and retry list, and the
// pages of full.html taken together. Their write costs in proportion to the
// experiment, not to what changed: at crater's size (700k crates) some
// 600 MB stored, and seconds. Rewritten with every write, an experiment
// that runs for days at a few results a second would have them rewritten
// every second or two, tens of terabytes a day to the store
// (BENCHMARKS.md), and each result would wait for the whole write under
// way before its own could start.
//
// So past Config.WholeFromCrates crates they are rewritten at most once
// per wholeSpacing times what their last write took (a write of them then
// takes about a twentieth of the reporter's time), and at once when the
// report reaches what a reader waits for: every first-run build with a
// result, the experiment ended (finished or aborted). The other files,
// index.html with every regression, full.html's list of pages,
// markdown.md, the retry list and the progress entry, still follow every
// write, as do the whole files of a smaller experiment. A large
// experiment's whole files are stored by a writer of their own
// (flush.go), so that the seconds their write takes do not hold back the
// writes of changes meanwhile.

// DefaultWholeFromCrates is Config.WholeFromCrates's default: at 20k
// crates results.json is about 10 MB and its write tens of milliseconds.
const DefaultWholeFromCrates = 20_000

// wholeSpacing is how many times what their last write took the whole
// files of a large experiment go apart, at the least.
const wholeSpacing = 20

// wholeFiles is where an experiment's whole files stand.
type wholeFiles struct {
	// at is when the last write with them began; zero: none stored yet,
	// or the last one failed.
	at time.Time
	// took is what that write took, from its rendering to its last file
	// stored.
	took time.Duration
	// done and state are the experiment's done builds and state that
	// write carried, and final whether it was the final report.
	done  int
	state streams.ExperimentState
	final bool
	// next is when they are due while they are behind the experiment;
	// zero when they are not.
	next time.Time
}

// onCadence reports whether e's whole files are written on their own
// cadence rather than with every write: e has fromCrates crates or more.
func (e *experiment) onCadence(fromCrates int) bool { return len(e.crates) >= fromCrates }

// wholeDue reports whether a write of e's report at now is to include its
// whole files; every is the least time between two writes of them. A
// final report always does.
func (e *experiment) wholeDue(now time.Time, final bool, fromCrates int, every time.Duration) bool {
	w := &e.whole
	switch {
	case !e.onCadence(fromCrates), final && !w.final, w.at.IsZero():
		return true
	case e.rec != nil && (e.done >= e.rec.Jobs && w.done < e.done || e.rec.State != w.state):
		return true
	}
	return e.behind() && !now.Before(e.wholeNext(every))
}

// scheduleWhole sets when e's whole files are next due: now if they are,
// else on their cadence while they are behind the experiment, else never.
func (e *experiment) scheduleWhole(now time.Time, fromCrates int, every time.Duration) {
	switch {
	case !e.onCadence(fromCrates):
		e.whole.next = time.Time{} // they go with every write
	case e.wholeDue(now, e.finished(), fromCrates, every):
		e.whole.next = now
	case e.behind():
		e.whole.next = e.wholeNext(every)
	default:
		e.whole.next = time.Time{}
	}
}

// wholeNext is when e's whole files are next due on their cadence.
func (e *experiment) wholeNext(every time.Duration) time.Time {
	return e.whole.at.Add(max(every, wholeSpacing*e.whole.took))
}

// behind reports whether a crate changed since e's whole files were last
// written: a page of full.html is dirty (a change marks its crate's page,
// and a large experiment's pages are written only with the whole files).
func (e *experiment) behind() bool {
	for _, p := range e.pages {
		if p.dirty {
			return true
		}
	}
	return false
}
