package reporter

import (
	"slices"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// crateKey names a crate version inside one experiment.
type crateKey struct {
	name, version string
}

// crateState holds the latest attempt of each toolchain, in the order of
// the experiment's toolchains (baseline first), and the verdict once both
// are in.
type crateState struct {
	runs [2]*streams.Result
	cmp  Comparison
}

func (c *crateState) complete() bool { return c.runs[0] != nil && c.runs[1] != nil }

func outcome(r *streams.Result) Outcome {
	if r == nil {
		return Outcome{}
	}
	return Outcome{Status: r.Status, Reason: r.Reason}
}

// experiment is everything the reporter knows about one experiment. The
// counts are kept up to date result by result, so the cost of a result does
// not grow with the size of the experiment.
type experiment struct {
	name string
	// rec is the experiment's record; nil until it has been read from the
	// experiments bucket. Until then results wait in held.
	rec  *streams.Experiment
	held map[streams.BuildKey]*streams.Result

	crates   map[crateKey]*crateState
	done     int                    // builds with a result
	statuses map[streams.Status]int // latest attempt per build
	classes  map[Class]int          // crates with both results; never ClassPending

	// due is when the report should next be written; zero when nothing
	// changed since the last write.
	due time.Time
	// strays are toolchains results named that the record does not list,
	// remembered so each is logged once.
	strays map[string]bool
	// badRevision is the record revision last found invalid, so an invalid
	// record is logged once, not on every retry.
	badRevision uint64
}

func newExperiment(name string) *experiment {
	return &experiment{
		name:     name,
		held:     make(map[streams.BuildKey]*streams.Result),
		crates:   make(map[crateKey]*crateState),
		statuses: make(map[streams.Status]int),
		classes:  make(map[Class]int),
		strays:   make(map[string]bool),
	}
}

// hold keeps r until the experiment's record is known. Like apply, it keeps
// only the highest attempt per build. It reports whether r was kept.
func (e *experiment) hold(r *streams.Result) bool {
	if old := e.held[r.BuildKey]; old != nil && old.Attempt >= r.Attempt {
		return false
	}
	e.held[r.BuildKey] = r
	return true
}

// setRecord makes rec the experiment's record and applies the held results.
// stray is called for each toolchain a result names that rec does not list.
func (e *experiment) setRecord(rec *streams.Experiment, stray func(toolchain string)) {
	e.rec = rec
	for _, r := range e.held {
		e.apply(r, stray)
	}
	e.held = nil
}

// apply records r if it is the highest attempt of its build seen so far and
// reports whether anything changed. A repeated delivery of the same attempt
// is a duplicate: attempts are immutable, the first copy wins.
func (e *experiment) apply(r *streams.Result, stray func(toolchain string)) bool {
	idx := slices.Index(e.rec.Toolchains, r.Toolchain)
	if idx < 0 {
		if !e.strays[r.Toolchain] {
			e.strays[r.Toolchain] = true
			stray(r.Toolchain)
		}
		return false
	}
	k := crateKey{r.Crate, r.Version}
	cs := e.crates[k]
	if cs == nil {
		cs = &crateState{}
		e.crates[k] = cs
	}
	old := cs.runs[idx]
	if old != nil && old.Attempt >= r.Attempt {
		return false
	}
	if cs.complete() {
		decrement(e.classes, cs.cmp.Class)
	}
	if old != nil {
		decrement(e.statuses, old.Status)
	} else {
		e.done++
	}
	cs.runs[idx] = r
	e.statuses[r.Status]++
	cs.cmp = Compare(outcome(cs.runs[0]), outcome(cs.runs[1]))
	if cs.complete() {
		e.classes[cs.cmp.Class]++
	}
	return true
}

// decrement lowers m[k], dropping the key at zero so that counts only ever
// show what is there.
func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// markDirty schedules a write a debounce after the first change since the
// last write; later changes join that write instead of postponing it.
func (e *experiment) markDirty(now time.Time, debounce time.Duration) {
	if e.due.IsZero() {
		e.due = now.Add(debounce)
	}
}
