package reporter

import (
	"fmt"
	"slices"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Outcome is one toolchain's result for a crate version. A zero Status means
// the build has not finished.
type Outcome struct {
	Status streams.Status
	Reason streams.Reason
}

// Comparison is the verdict on a pair of outcomes. Note says, for a person,
// why a pair got a class that is not obvious from the two statuses.
type Comparison struct {
	Class results.Class
	Note  string
}

// Compare classifies a crate version from its baseline outcome a and its
// outcome b under the new toolchain with crater's rules (rust-lang/crater
// src/report/mod.rs, compare(); crater_test.go holds its test table):
//
//  1. build-fail(ice) → build-fail(ice) is same-build-fail, but any other
//     build failure → build-fail(ice) is regressed;
//  2. the same status on both sides is same-*;
//  3. a change towards success (build-fail → test-*, test-fail →
//     test-pass) is fixed, spurious-fixed if the OLD side's reason is
//     spurious: the failure that went away is what the fix is about;
//  4. a change towards failure (test-* → build-fail, test-pass →
//     test-fail) is regressed, spurious-regressed if the NEW side's reason
//     is spurious: the failure that appeared is what the regression is;
//  5. otherwise skipped, broken, prepare-fail, error if either side has
//     it, checked in that order.
//
// A test-skipped result against test-fail or test-pass means the two
// toolchains ran in different modes. Crater panics there; Compare says
// unknown and explains in Note. It never panics, whatever the input.
func Compare(a, b Outcome) Comparison {
	switch {
	case a.Status == "" && b.Status == "":
		return Comparison{results.ClassPending, "no result from either toolchain yet"}
	case a.Status == "":
		return Comparison{results.ClassPending, "waiting for the baseline toolchain"}
	case b.Status == "":
		return Comparison{results.ClassPending, "waiting for the new toolchain"}
	}
	for _, s := range []streams.Status{a.Status, b.Status} {
		if !slices.Contains(streams.Statuses, s) {
			return Comparison{results.ClassUnknown, fmt.Sprintf("unrecognised status %q", s)}
		}
	}
	if c, ok := compareBuilt(a, b); ok {
		return c
	}
	for _, p := range []struct {
		status streams.Status
		class  results.Class
	}{
		{streams.StatusSkipped, results.ClassSkipped},
		{streams.StatusBroken, results.ClassBroken},
		{streams.StatusPrepareFail, results.ClassPrepareFail},
		{streams.StatusError, results.ClassError},
	} {
		if a.Status == p.status || b.Status == p.status {
			return Comparison{Class: p.class}
		}
	}
	// Only the test-skipped mixes are left.
	return Comparison{results.ClassUnknown, fmt.Sprintf(
		"%s vs %s: the toolchains did not run the same mode, the results cannot be compared", a.Status, b.Status)}
}

// compareBuilt handles pairs where both sides got as far as building.
// ok is false when it has no verdict: a side did not build, or a
// test-skipped mix.
func compareBuilt(a, b Outcome) (Comparison, bool) {
	switch {
	case a.Status == streams.StatusBuildFail && b.Status == streams.StatusBuildFail:
		if b.Reason == streams.ReasonICE && a.Reason != streams.ReasonICE {
			return Comparison{results.ClassRegressed, "internal compiler error with the new toolchain"}, true
		}
		return Comparison{Class: results.ClassSameBuildFail}, true
	case a.Status == b.Status:
		switch a.Status {
		case streams.StatusTestFail:
			return Comparison{Class: results.ClassSameTestFail}, true
		case streams.StatusTestSkipped:
			return Comparison{Class: results.ClassSameTestSkipped}, true
		case streams.StatusTestPass:
			return Comparison{Class: results.ClassSameTestPass}, true
		}
	case fixes(a.Status, b.Status):
		if streams.Spurious(a.Reason) {
			return Comparison{results.ClassSpuriousFixed, "spurious failure reason: " + string(a.Reason)}, true
		}
		return Comparison{Class: results.ClassFixed}, true
	case fixes(b.Status, a.Status):
		switch {
		case streams.Spurious(b.Reason):
			return Comparison{results.ClassSpuriousRegressed, "spurious failure reason: " + string(b.Reason)}, true
		case b.Reason.Kind() == streams.ReasonDependsOn:
			// Crater groups these under the dependency ("dependent", not "root").
			return Comparison{results.ClassRegressed, "a dependency failed: " + string(b.Reason)}, true
		}
		return Comparison{Class: results.ClassRegressed}, true
	}
	return Comparison{}, false
}

// fixes reports whether going from status a to status b is a change
// towards success: build-fail to any test outcome, test-fail to
// test-pass. Test-skipped sits beside test-pass (the build worked, the
// tests were not run) and is comparable with neither test outcome.
func fixes(a, b streams.Status) bool {
	switch a {
	case streams.StatusBuildFail:
		return b == streams.StatusTestFail || b == streams.StatusTestSkipped || b == streams.StatusTestPass
	case streams.StatusTestFail:
		return b == streams.StatusTestPass
	}
	return false
}
