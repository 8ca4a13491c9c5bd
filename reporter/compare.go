package reporter

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// Class is how a crate version's two results compare, as crater names it
// (crater spells the "same-*" classes without the prefix).
type Class string

// The comparison classes.
const (
	ClassRegressed         Class = "regressed"
	ClassSpuriousRegressed Class = "spurious-regressed"
	ClassFixed             Class = "fixed"
	ClassSpuriousFixed     Class = "spurious-fixed"
	ClassSameBuildFail     Class = "same-build-fail"
	ClassSameTestFail      Class = "same-test-fail"
	ClassSameTestSkipped   Class = "same-test-skipped"
	ClassSameTestPass      Class = "same-test-pass"
	ClassBroken            Class = "broken"
	ClassPrepareFail       Class = "prepare-fail"
	ClassSkipped           Class = "skipped"
	ClassError             Class = "error"
	ClassUnknown           Class = "unknown"

	// ClassPending is not one of crater's classes: crater compares only at
	// the end, ejecta reports while builds are still running. A crate is
	// pending until both toolchains have a result. Pending crates are listed
	// in the report but never counted in streams.Progress.Classes.
	ClassPending Class = "pending"
)

// Classes lists every class in the order a report shows them: what needs a
// person's attention first, pending last.
var Classes = []Class{
	ClassRegressed, ClassFlaky, ClassFixed, ClassSpuriousRegressed, ClassSpuriousFixed,
	ClassUnknown, ClassError, ClassPrepareFail, ClassBroken, ClassSkipped,
	ClassSameBuildFail, ClassSameTestFail, ClassSameTestSkipped, ClassSameTestPass,
	ClassPending,
}

// Outcome is one toolchain's result for a crate version. A zero Status means
// the build has not finished.
type Outcome struct {
	Status streams.Status
	Reason streams.Reason
}

// Comparison is the verdict on a pair of outcomes. Note says, for a person,
// why a pair got a class that is not obvious from the two statuses.
type Comparison struct {
	Class Class
	Note  string
}

// Compare classifies a crate version from its baseline outcome a and its
// outcome b under the new toolchain, with crater's precedence:
//
//  1. build-fail(ice) → build-fail(ice) is same-build-fail, but any other
//     build failure → build-fail(ice) is regressed;
//  2. the same status on both sides is same-*;
//  3. a change towards success is fixed, towards failure regressed, unless
//     the failure reason is spurious (spurious-fixed, spurious-regressed).
//     Between build-fail and test-fail either side's spurious reason makes
//     the change spurious;
//  4. otherwise error, skipped, broken, prepare-fail if either side has it,
//     checked in that order.
//
// A test-skipped result against test-fail or test-pass means the two
// toolchains ran in different modes. Crater panics there; Compare says
// unknown and explains in Note. It never panics, whatever the input.
func Compare(a, b Outcome) Comparison {
	switch {
	case a.Status == "" && b.Status == "":
		return Comparison{ClassPending, "no result from either toolchain yet"}
	case a.Status == "":
		return Comparison{ClassPending, "waiting for the baseline toolchain"}
	case b.Status == "":
		return Comparison{ClassPending, "waiting for the new toolchain"}
	}
	for _, s := range []streams.Status{a.Status, b.Status} {
		if !slices.Contains(streams.Statuses, s) {
			return Comparison{ClassUnknown, fmt.Sprintf("unrecognised status %q", s)}
		}
	}
	if c, ok := compareBuilt(a, b); ok {
		return c
	}
	for _, p := range []struct {
		status streams.Status
		class  Class
	}{
		{streams.StatusError, ClassError},
		{streams.StatusSkipped, ClassSkipped},
		{streams.StatusBroken, ClassBroken},
		{streams.StatusPrepareFail, ClassPrepareFail},
	} {
		if a.Status == p.status || b.Status == p.status {
			return Comparison{Class: p.class}
		}
	}
	// Only the test-skipped mixes are left.
	return Comparison{ClassUnknown, fmt.Sprintf(
		"%s vs %s: the toolchains did not run the same mode, the results cannot be compared", a.Status, b.Status)}
}

// level orders the statuses of a crate that got as far as building: a
// higher level is closer to success. Test-skipped sits beside test-pass
// (the build worked, the tests were not run) and is not comparable with
// either test outcome.
func level(s streams.Status) (int, bool) {
	switch s {
	case streams.StatusBuildFail:
		return 0, true
	case streams.StatusTestFail:
		return 1, true
	case streams.StatusTestPass, streams.StatusTestSkipped:
		return 2, true
	}
	return 0, false
}

// compareBuilt handles pairs where both sides got as far as building.
// ok is false when it has no verdict: a side did not build, or a
// test-skipped mix.
func compareBuilt(a, b Outcome) (Comparison, bool) {
	la, okA := level(a.Status)
	lb, okB := level(b.Status)
	if !okA || !okB {
		return Comparison{}, false
	}
	if a.Status == streams.StatusBuildFail && b.Status == streams.StatusBuildFail {
		if b.Reason == streams.ReasonICE && a.Reason != streams.ReasonICE {
			return Comparison{ClassRegressed, "internal compiler error with the new toolchain"}, true
		}
		return Comparison{Class: ClassSameBuildFail}, true
	}
	if a.Status == b.Status {
		switch a.Status {
		case streams.StatusTestFail:
			return Comparison{Class: ClassSameTestFail}, true
		case streams.StatusTestSkipped:
			return Comparison{Class: ClassSameTestSkipped}, true
		default:
			return Comparison{Class: ClassSameTestPass}, true
		}
	}
	if la == lb { // test-skipped against test-pass: no verdict here.
		return Comparison{}, false
	}
	if (a.Status == streams.StatusTestSkipped && b.Status == streams.StatusTestFail) ||
		(a.Status == streams.StatusTestFail && b.Status == streams.StatusTestSkipped) {
		return Comparison{}, false
	}

	// The failure that changed: the old one when fixed, the new one when
	// regressed. Between build-fail and test-fail both sides failed, and
	// crater calls the change spurious if either reason is.
	fixed := lb > la
	failures := []Outcome{b}
	switch {
	case la+lb == 1: // build-fail and test-fail
		failures = []Outcome{a, b}
	case fixed:
		failures = []Outcome{a}
	}
	var spurious []string
	for _, f := range failures {
		if streams.Spurious(f.Reason) && !slices.Contains(spurious, string(f.Reason)) {
			spurious = append(spurious, string(f.Reason))
		}
	}
	note := ""
	if len(spurious) > 0 {
		note = "spurious failure reason: " + strings.Join(spurious, ", ")
	}
	var c Comparison
	switch {
	case fixed && note != "":
		c = Comparison{ClassSpuriousFixed, note}
	case fixed:
		c = Comparison{Class: ClassFixed}
	case note != "":
		c = Comparison{ClassSpuriousRegressed, note}
	default:
		c = Comparison{Class: ClassRegressed}
	}
	if !fixed && b.Reason.Kind() == streams.ReasonDependsOn && c.Note == "" {
		// Crater groups these under the dependency ("dependent", not "root").
		c.Note = "a dependency failed: " + string(b.Reason)
	}
	return c, true
}
