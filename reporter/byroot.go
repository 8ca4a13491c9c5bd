package reporter

import (
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/results"
)

// A regression whose new toolchain failed because a dependency did
// (depends-on(X)) is confirmed by X's own re-runs when X is a crate of the
// same experiment that regressed and was confirmed: X was then built in
// clean targets on both toolchains and failed on the new one, which is all
// the dependent's re-runs would show again, each rebuilding the dependency
// tree from nothing. When one crate of the compiler's making breaks many
// above it (a proc-macro2 cascades to syn, quote, serde_derive, ...), the
// dependents' re-runs were most of an experiment's confirmation time.
//
// So a pending dependent waits for its root's verdict instead of queueing
// re-runs (awaitsRoot): a confirmed root confirms it (ConfirmationRoot);
// any other verdict of the root (flaky, cleared, not a regression) and the
// dependent is re-run as before. A root the reporter has not seen a result
// of may not be in the experiment at all: its dependents wait until the
// first run is complete, then are re-run.

// verdictOf is cs's verdict: judge's, with a pending regression confirmed
// by its root where that root is confirmed.
func (e *experiment) verdictOf(cs *crateState) verdict {
	v := judge(cs, e.confirmations)
	if v.Confirmation != results.ConfirmationPending || v.Class != results.ClassRegressed {
		return v
	}
	if rc, found := e.rootCrate(cs, v); found == rootFound && rc.listed() && rc.v.Class == results.ClassRegressed &&
		(rc.v.Confirmation == results.ConfirmationConfirmed || rc.v.Confirmation == results.ConfirmationRoot) {
		v.Confirmation = results.ConfirmationRoot
	}
	return v
}

// rootFinding is what rootCrate found.
type rootFinding int

const (
	rootNone      rootFinding = iota // cs is not a regression with a depends-on root
	rootUnknown                      // no crate of the root's name has a result yet
	rootAmbiguous                    // several versions could be meant, or cs itself
	rootFound
)

// rootCrate returns the crate of this experiment that cs's regression, of
// verdict v, blames: the one of the root's name and, when the reason names
// one, its version. Without a version it must be the only version of that
// name.
func (e *experiment) rootCrate(cs *crateState, v verdict) (*crateState, rootFinding) {
	if v.Class != results.ClassRegressed || v.Root == "" {
		return nil, rootNone
	}
	name, version := dependency(outcome(cs.runs[1]).Reason)
	var found []*crateState
	for _, c := range e.named(name) {
		if version == "" || c.key.version == version {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 0:
		return nil, rootUnknown
	case len(found) > 1 || found[0] == cs:
		return nil, rootAmbiguous
	}
	return found[0], rootFound
}

// named returns the crates of this experiment called name, every version.
// Pages hold crates sorted by lower-case name, so this is a binary search
// within one page.
func (e *experiment) named(name string) []*crateState {
	lower := strings.ToLower(name)
	p := e.pages[pagePrefix(lower)]
	if p == nil {
		return nil
	}
	i, _ := slices.BinarySearchFunc(p.rows, lower, func(c *crateState, l string) int { return strings.Compare(c.lower, l) })
	var out []*crateState
	for ; i < len(p.rows) && p.rows[i].lower == lower; i++ {
		if p.rows[i].key.name == name {
			out = append(out, p.rows[i])
		}
	}
	return out
}

// awaitsRoot reports whether cs, a pending crate, should wait for its
// root's verdict rather than be re-run: its root (or the root's root, and
// so on) is pending, or is not known yet while the first run is still
// going. A cycle of crates blaming each other (which cargo cannot build,
// but results are hostile) waits for nothing.
func (e *experiment) awaitsRoot(cs *crateState) bool {
	seen := map[*crateState]bool{cs: true}
	for x := cs; ; {
		rc, found := e.rootCrate(x, x.v)
		switch {
		case found == rootNone:
			return x != cs // x is pending on re-runs of its own
		case found == rootUnknown:
			return !e.firstRunDone()
		case found == rootAmbiguous || seen[rc]:
			return false
		case !rc.listed():
			return true
		case rc.v.Confirmation != results.ConfirmationPending:
			return false
		}
		seen[rc] = true
		x = rc
	}
}

// firstRunDone reports whether every build of the experiment's first run
// has a result.
func (e *experiment) firstRunDone() bool {
	return e.rec != nil && e.rec.Jobs > 0 && e.done >= e.rec.Jobs
}

// indexDependent keeps cs among its root's dependents while its verdict
// may follow the root's: a regression blaming a dependency.
func (e *experiment) indexDependent(cs *crateState) {
	if cs.v.Class != results.ClassRegressed || cs.v.Root == "" {
		return
	}
	if e.dependents == nil {
		e.dependents = make(map[string]map[*crateState]struct{})
	}
	m := e.dependents[cs.v.Root]
	if m == nil {
		m = make(map[*crateState]struct{})
		e.dependents[cs.v.Root] = m
	}
	m[cs] = struct{}{}
}

// unindexDependent undoes indexDependent before cs changes.
func (e *experiment) unindexDependent(cs *crateState) {
	if m := e.dependents[cs.v.Root]; m != nil {
		delete(m, cs)
		if len(m) == 0 {
			delete(e.dependents, cs.v.Root)
		}
	}
}

// rejudgeDependents draws again the verdicts of the crates that blame a
// crate called name, which just changed, and of theirs in turn.
func (e *experiment) rejudgeDependents(name string) {
	e.rejudge(name, map[*crateState]bool{})
}

func (e *experiment) rejudge(name string, seen map[*crateState]bool) {
	var deps []*crateState
	for d := range e.dependents[name] {
		if !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
	}
	for _, d := range deps {
		v := e.verdictOf(d)
		if v == d.v {
			continue
		}
		e.uncount(d)
		d.v = v
		e.count(d)
		d.changed()
		e.rejudge(d.key.name, seen)
	}
}
