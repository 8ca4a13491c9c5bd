package reporter

import (
	"slices"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// crateKey names a crate version inside one experiment.
type crateKey struct {
	name, version string
}

// pair is one run of a crate version: the latest attempt of each toolchain,
// in the order of the experiment's toolchains (baseline first).
type pair [2]*kept

func (p *pair) complete() bool { return p[0] != nil && p[1] != nil }

func (p *pair) compare() Comparison { return Compare(outcome(p[0]), outcome(p[1])) }

// shared reports whether either side built in a shared target.
func (p *pair) shared() bool {
	return p[0] != nil && p[0].SharedTarget || p[1] != nil && p[1].SharedTarget
}

func outcome(r *kept) Outcome {
	if r == nil {
		return Outcome{}
	}
	return Outcome{Status: r.Status, Reason: r.Reason}
}

// crateState is one crate version: its first run, its confirmation re-runs
// and the verdict drawn from them, and its rendered forms. The renderings
// are cached so that writing a report costs copying bytes, not encoding
// every crate again; a change to the crate drops them.
type crateState struct {
	key   crateKey
	lower string // lower-case name: the sort and page key
	runs  pair
	// reruns[r-1] is confirmation re-run r (streams.AttemptRound).
	reruns []pair
	// gen is the retry generation runs and reruns belong to
	// (streams.AttemptGeneration): `experiment retry` starts a new one,
	// whose results replace the earlier generation's.
	gen int
	v   verdict
	// knownFrom is the experiment's baseline when the crate regressed
	// there (baseline.go); "" otherwise.
	knownFrom string
	// claims are the slots that have had results of more than one
	// attempt (disputes.go); nil for most crates.
	claims map[slotKey]*claim

	json   []byte // results.json entry; nil when stale
	crater []byte // crater view results.json entry (craterview.go); nil when stale
	row    []byte // HTML table row; nil when stale
	page   *page
}

// changed drops c's cached renderings, its state having changed, and
// marks its page for the next write.
func (c *crateState) changed() {
	c.json, c.row, c.crater = nil, nil, nil
	c.page.dirty = true
}

// listed reports whether c is counted in the class counts: only once both
// toolchains of the first run have a result.
func (c *crateState) listed() bool { return c.runs.complete() }

// rerun returns re-run round (1 or more), growing the list as needed.
func (c *crateState) rerun(round int) *pair {
	for len(c.reruns) < round {
		c.reruns = append(c.reruns, pair{})
	}
	return &c.reruns[round-1]
}

// compareCrates is the order of crates everywhere in a report:
// case-insensitively by name, then by name, then by semver version.
func compareCrates(a, b *crateState) int {
	if c := strings.Compare(a.lower, b.lower); c != 0 {
		return c
	}
	if c := strings.Compare(a.key.name, b.key.name); c != 0 {
		return c
	}
	return streams.CompareVersions(a.key.version, b.key.version)
}

// experiment is everything the reporter knows about one experiment. Counts,
// class lists and pages are kept up to date result by result, so the cost
// of a result does not grow with the size of the experiment.
type experiment struct {
	name string
	// confirmations is how many re-runs confirm a regression; 0 disables.
	confirmations int
	// rec is the experiment's record (setRecord). Results that come
	// before it wait apart (pending.go).
	rec *streams.Experiment

	crates map[crateKey]*crateState
	pages  map[string]*page
	// prefixes are the keys of pages, sorted.
	prefixes []string

	done     int                    // builds of the first run with a result
	doneBy   [2]int                 // done, by toolchain (the record's order)
	statuses map[streams.Status]int // latest first-run attempt per build
	classes  map[results.Class]int  // listed crates by verdict
	// shown are the crates index.html lists, by class.
	shown map[results.Class]map[*crateState]struct{}
	// unconfirmed are crates waiting for a confirmation re-run.
	unconfirmed map[*crateState]struct{}
	// dependents are the regressions blaming a dependency, by its name:
	// their confirmation may follow the dependency's (byroot.go).
	dependents map[string]map[*crateState]struct{}
	// finished spans the first-run results' FinishedAt times: the rate and
	// ETA derive from it, so a replay computes the same figures.
	firstFinished, lastFinished time.Time

	// due is when the report should next be written; zero when nothing
	// changed since the last write. quiet is when it may go out early
	// (markDirty), but not before a debounce after lastWrite.
	due, quiet, lastWrite time.Time
	debounce              time.Duration
	// took is what the last write took, from its rendering to its last
	// file stored (wrote), which spaces the writes that follow.
	took time.Duration
	// pagesWritten is when pages of full.html were last written.
	pagesWritten time.Time
	// whole is where its whole files stand (whole.go), and resultsUpdated
	// is the time in the results.json last stored.
	whole          wholeFiles
	resultsUpdated time.Time
	// configWritten is set once config.json is stored.
	configWritten bool
	// lastResult is when the newest result that changed the report
	// arrived: the start of the report lag (metrics.go).
	lastResult time.Time
	// strays are toolchains results named that the record does not list,
	// remembered so each is logged once.
	strays map[string]bool
	// labels are the labels its kept results share (keep.go).
	labels map[labels]*labels
	// badRevision is the record revision last found invalid, so an invalid
	// record is logged once, not on every retry.
	badRevision uint64
	// arch is where the experiment's log archives stand.
	arch archiveState
	// logsRemoved is set once its stored logs were removed, past their
	// retention (retention.go).
	logsRemoved bool
	// base is where its baseline's regressions stand (baseline.go).
	base baseline
	// web is the web UI's address (Config.WebURL), for links to log lines.
	web string
	// onDispute is told of each build whose results two builder users
	// disagree on (disputes.go); nil: nobody.
	onDispute func(held *kept, came *streams.Result)
}

func newExperiment(name string, confirmations int) *experiment {
	return &experiment{
		name:          name,
		confirmations: confirmations,
		crates:        make(map[crateKey]*crateState),
		pages:         make(map[string]*page),
		statuses:      make(map[streams.Status]int),
		classes:       make(map[results.Class]int),
		shown:         make(map[results.Class]map[*crateState]struct{}),
		unconfirmed:   make(map[*crateState]struct{}),
		strays:        make(map[string]bool),
		labels:        make(map[labels]*labels),
	}
}

// setRecord makes rec the experiment's record.
func (e *experiment) setRecord(rec *streams.Experiment) { e.rec = rec }

// apply records r if it is the highest attempt of its build and run seen so
// far and reports whether anything changed. A repeated delivery of the same
// attempt is a duplicate: attempts are immutable, the first copy wins.
// Confirmation re-runs never count as done builds.
func (e *experiment) apply(r *streams.Result, stray func(toolchain string)) bool {
	idx := slices.Index(e.rec.Toolchains, r.Toolchain)
	if idx < 0 {
		if !e.strays[r.Toolchain] {
			e.strays[r.Toolchain] = true
			stray(r.Toolchain)
		}
		return false
	}
	round := streams.AttemptRound(r.Attempt)
	if round > streams.MaxRerunRound {
		return false
	}
	cs := e.crate(crateKey{r.Crate, r.Version})
	switch gen := streams.AttemptGeneration(r.Attempt); {
	case gen < cs.gen:
		return false // replaced by a retry
	case gen > cs.gen:
		e.retried(cs, gen)
	}
	slot := &cs.runs
	if round > 0 {
		slot = cs.rerun(round)
	}
	old, came := slot[idx], e.keep(r)
	if old != nil {
		c := cs.claim(slotKey{round, idx}, old)
		if c.disputed {
			return false // settled until a retry
		}
		switch other := c.contradicts(old, came); {
		case other != nil:
			if e.onDispute != nil {
				e.onDispute(other, r)
			}
			c.disputed = true
			came = disputed(old, came)
		case old.Attempt >= came.Attempt:
			c.saw(came)
			return false
		default:
			c.saw(came)
		}
	}
	e.uncount(cs)
	if round == 0 {
		if old != nil {
			decrement(e.statuses, old.Status)
		} else {
			e.done++
			e.doneBy[idx]++
		}
		e.statuses[came.Status]++
		e.finishedAt(r.FinishedAt)
	}
	slot[idx] = came
	cs.v = e.verdictOf(cs)
	e.count(cs)
	e.rejudgeDependents(cs.key.name)
	cs.changed()
	return true
}

// crate returns the state of k, creating it (and its place on a page).
func (e *experiment) crate(k crateKey) *crateState {
	if cs := e.crates[k]; cs != nil {
		return cs
	}
	cs := &crateState{key: k, lower: strings.ToLower(k.name)}
	if e.base.regressed[k.name] {
		cs.knownFrom = e.rec.Baseline
	}
	e.crates[k] = cs
	e.pageFor(cs).insert(cs)
	return cs
}

// uncount takes cs out of the counts and lists before it changes.
func (e *experiment) uncount(cs *crateState) {
	delete(e.unconfirmed, cs)
	e.unindexDependent(cs)
	if !cs.listed() {
		return
	}
	decrement(e.classes, cs.v.Class)
	delete(e.shown[cs.v.Class], cs)
}

// count puts cs back into the counts and lists after it changed.
func (e *experiment) count(cs *crateState) {
	if cs.v.Confirmation == results.ConfirmationPending {
		e.unconfirmed[cs] = struct{}{}
	}
	e.indexDependent(cs)
	if !cs.listed() {
		return
	}
	e.classes[cs.v.Class]++
	if slices.Contains(indexClasses, cs.v.Class) {
		m := e.shown[cs.v.Class]
		if m == nil {
			m = make(map[*crateState]struct{})
			e.shown[cs.v.Class] = m
		}
		m[cs] = struct{}{}
	}
}

func (e *experiment) finishedAt(t time.Time) {
	if t.IsZero() {
		return
	}
	if e.firstFinished.IsZero() || t.Before(e.firstFinished) {
		e.firstFinished = t
	}
	if t.After(e.lastFinished) {
		e.lastFinished = t
	}
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

// quietFraction sets how long the stream must be quiet, as a fraction of
// the debounce, before a due write goes out early.
const quietFraction = 10

// writeSpacing is how many times what the last write took the writes of
// an experiment go apart under a steady stream of results. A write
// encodes and stores files with every crate, so its cost grows with the
// experiment: at crater's size (700k crates) it takes seconds, and written
// once a debounce those files would take most of the reporter's time,
// leaving too little to read the results they report, which then pile up.
// Spaced, the writes of a stream take about a quarter of it.
const writeSpacing = 4

// markDirty schedules a write a debounce after the first change since the
// last write, or writeSpacing times what the last write took when that is
// longer; later changes join that write instead of postponing it. When no
// change follows for a tenth of the debounce, the burst is over and the
// write may go out early, but never sooner than a debounce (or what the
// last write took) after the previous one: the report follows the last
// result closely, and a stream of results still causes at most one write
// per debounce or per spacing.
func (e *experiment) markDirty(now time.Time, debounce time.Duration) {
	if e.due.IsZero() {
		e.due = now.Add(max(debounce, writeSpacing*e.took))
	}
	e.quiet = now.Add(debounce / quietFraction)
	e.debounce = debounce
}

// wrote records what the last write took, from its rendering to its last
// file stored.
func (e *experiment) wrote(took time.Duration) { e.took = took }

// retryAt schedules the next write at t, whatever comes in meanwhile.
func (e *experiment) retryAt(t time.Time) {
	e.due, e.quiet = t, time.Time{}
}

// dueAt is when the next write is due; zero when none is.
func (e *experiment) dueAt() time.Time {
	due := e.changesDueAt()
	if next := e.whole.next; !next.IsZero() && (due.IsZero() || next.Before(due)) {
		return next
	}
	return due
}

// changesDueAt is when the next write is due for the changes since the
// last one; zero when there are none.
func (e *experiment) changesDueAt() time.Time {
	if e.quiet.IsZero() {
		return e.due
	}
	early := e.quiet
	if floor := e.lastWrite.Add(max(e.debounce, e.took)); early.Before(floor) {
		early = floor
	}
	if early.Before(e.due) {
		return early
	}
	return e.due
}

// retried forgets every result of cs before retry generation gen: the
// retry's results are the new truth, and the crate counts as not done
// until they are in.
func (e *experiment) retried(cs *crateState, gen int) {
	e.uncount(cs)
	for i, old := range cs.runs {
		if old != nil {
			decrement(e.statuses, old.Status)
			e.done--
			e.doneBy[i]--
		}
	}
	cs.runs, cs.reruns, cs.gen, cs.claims = pair{}, nil, gen, nil
	cs.v = e.verdictOf(cs)
	e.count(cs)
	e.rejudgeDependents(cs.key.name)
	cs.changed()
}
