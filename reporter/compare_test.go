package reporter

import (
	"fmt"
	"testing"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Short names keep the table below readable. Build and test failures carry
// ordinary, non-spurious reasons unless a row says otherwise.
var (
	oBroken  = Outcome{Status: streams.StatusBroken, Reason: "cargo-toml"}
	oPrepare = Outcome{Status: streams.StatusPrepareFail, Reason: "unknown"}
	oBuild   = Outcome{Status: streams.StatusBuildFail, Reason: "compiler-error(E0308)"}
	oTest    = Outcome{Status: streams.StatusTestFail, Reason: "unknown"}
	oTSkip   = Outcome{Status: streams.StatusTestSkipped}
	oPass    = Outcome{Status: streams.StatusTestPass}
	oSkipped = Outcome{Status: streams.StatusSkipped}
	oError   = Outcome{Status: streams.StatusError, Reason: "unknown"}
	oNone    = Outcome{}
)

func bf(reason streams.Reason) Outcome {
	return Outcome{Status: streams.StatusBuildFail, Reason: reason}
}
func tf(reason streams.Reason) Outcome {
	return Outcome{Status: streams.StatusTestFail, Reason: reason}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b Outcome
		want results.Class
	}{
		// Every pair of the 8 statuses, baseline (a) by row.
		{oBroken, oBroken, results.ClassBroken},
		{oBroken, oPrepare, results.ClassBroken},
		{oBroken, oBuild, results.ClassBroken},
		{oBroken, oTest, results.ClassBroken},
		{oBroken, oTSkip, results.ClassBroken},
		{oBroken, oPass, results.ClassBroken},
		{oBroken, oSkipped, results.ClassSkipped},
		{oBroken, oError, results.ClassBroken},

		{oPrepare, oBroken, results.ClassBroken},
		{oPrepare, oPrepare, results.ClassPrepareFail},
		{oPrepare, oBuild, results.ClassPrepareFail},
		{oPrepare, oTest, results.ClassPrepareFail},
		{oPrepare, oTSkip, results.ClassPrepareFail},
		{oPrepare, oPass, results.ClassPrepareFail},
		{oPrepare, oSkipped, results.ClassSkipped},
		{oPrepare, oError, results.ClassPrepareFail},

		{oBuild, oBroken, results.ClassBroken},
		{oBuild, oPrepare, results.ClassPrepareFail},
		{oBuild, oBuild, results.ClassSameBuildFail},
		{oBuild, oTest, results.ClassFixed},
		{oBuild, oTSkip, results.ClassFixed},
		{oBuild, oPass, results.ClassFixed},
		{oBuild, oSkipped, results.ClassSkipped},
		{oBuild, oError, results.ClassError},

		{oTest, oBroken, results.ClassBroken},
		{oTest, oPrepare, results.ClassPrepareFail},
		{oTest, oBuild, results.ClassRegressed},
		{oTest, oTest, results.ClassSameTestFail},
		{oTest, oTSkip, results.ClassUnknown},
		{oTest, oPass, results.ClassFixed},
		{oTest, oSkipped, results.ClassSkipped},
		{oTest, oError, results.ClassError},

		{oTSkip, oBroken, results.ClassBroken},
		{oTSkip, oPrepare, results.ClassPrepareFail},
		{oTSkip, oBuild, results.ClassRegressed},
		{oTSkip, oTest, results.ClassUnknown},
		{oTSkip, oTSkip, results.ClassSameTestSkipped},
		{oTSkip, oPass, results.ClassUnknown},
		{oTSkip, oSkipped, results.ClassSkipped},
		{oTSkip, oError, results.ClassError},

		{oPass, oBroken, results.ClassBroken},
		{oPass, oPrepare, results.ClassPrepareFail},
		{oPass, oBuild, results.ClassRegressed},
		{oPass, oTest, results.ClassRegressed},
		{oPass, oTSkip, results.ClassUnknown},
		{oPass, oPass, results.ClassSameTestPass},
		{oPass, oSkipped, results.ClassSkipped},
		{oPass, oError, results.ClassError},

		{oSkipped, oBroken, results.ClassSkipped},
		{oSkipped, oPrepare, results.ClassSkipped},
		{oSkipped, oBuild, results.ClassSkipped},
		{oSkipped, oTest, results.ClassSkipped},
		{oSkipped, oTSkip, results.ClassSkipped},
		{oSkipped, oPass, results.ClassSkipped},
		{oSkipped, oSkipped, results.ClassSkipped},
		{oSkipped, oError, results.ClassSkipped},

		{oError, oBroken, results.ClassBroken},
		{oError, oPrepare, results.ClassPrepareFail},
		{oError, oBuild, results.ClassError},
		{oError, oTest, results.ClassError},
		{oError, oTSkip, results.ClassError},
		{oError, oPass, results.ClassError},
		{oError, oSkipped, results.ClassSkipped},
		{oError, oError, results.ClassError},

		// Internal compiler errors.
		{bf("ice"), bf("ice"), results.ClassSameBuildFail},
		{bf("compiler-error(E0277)"), bf("ice"), results.ClassRegressed},
		{bf("unknown"), bf("ice"), results.ClassRegressed},
		{bf("oom"), bf("ice"), results.ClassRegressed},
		{bf("ice"), bf("compiler-error(E0277)"), results.ClassSameBuildFail},
		{oPass, bf("ice"), results.ClassRegressed},
		{bf("ice"), oPass, results.ClassFixed},

		// Spurious reasons: the new failure when regressed, the old one
		// when fixed, between build-fail and test-fail too.
		{oPass, bf("oom"), results.ClassSpuriousRegressed},
		{oPass, bf("no-space"), results.ClassSpuriousRegressed},
		{oPass, tf("timeout"), results.ClassSpuriousRegressed},
		{oTSkip, bf("network-access"), results.ClassSpuriousRegressed},
		{oTest, bf("sandbox-error"), results.ClassSpuriousRegressed},
		{oTest, bf("log-unavailable"), results.ClassSpuriousRegressed},
		{tf("oom"), bf("compiler-error(E0308)"), results.ClassRegressed},
		{oPass, bf("compiler-diagnostic-change"), results.ClassSpuriousRegressed},
		// A build that hangs silently under the new toolchain: crater's
		// no-output timeout is a timeout.
		{oPass, bf(streams.ReasonNoOutputTimeout), results.ClassSpuriousRegressed},
		{oPass, tf(streams.ReasonNoOutputTimeout), results.ClassSpuriousRegressed},
		// A reason this build does not know is the crate's failure.
		{oPass, bf("some-reason-crater-adds"), results.ClassRegressed},
		{bf("oom"), oPass, results.ClassSpuriousFixed},
		{tf("timeout"), oPass, results.ClassSpuriousFixed},
		{bf("no-space"), oTSkip, results.ClassSpuriousFixed},
		{bf("oom"), oTest, results.ClassSpuriousFixed},
		{bf("compiler-error(E0308)"), tf("timeout"), results.ClassFixed},
		{bf("oom"), bf("timeout"), results.ClassSameBuildFail},
		{tf("oom"), tf("unknown"), results.ClassSameTestFail},
		{oPass, bf("depends-on(foo)"), results.ClassRegressed},
		{tf("oom"), tf("oom"), results.ClassSameTestFail},
		// Only the failing side's reason counts.
		{Outcome{streams.StatusTestPass, "oom"}, bf("unknown"), results.ClassRegressed},
		{bf("unknown"), Outcome{streams.StatusTestPass, "oom"}, results.ClassFixed},
		// Reasons are matched exactly.
		{oPass, bf("OOM"), results.ClassRegressed},

		// Not finished, or nonsense.
		{oNone, oNone, results.ClassPending},
		{oPass, oNone, results.ClassPending},
		{oNone, oBuild, results.ClassPending},
		{oNone, oError, results.ClassPending},
		{Outcome{Status: "exploded"}, oPass, results.ClassUnknown},
		{oPass, Outcome{Status: "exploded"}, results.ClassUnknown},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s(%s)->%s(%s)", tt.a.Status, tt.a.Reason, tt.b.Status, tt.b.Reason)
		t.Run(name, func(t *testing.T) {
			got := Compare(tt.a, tt.b)
			if got.Class != tt.want {
				t.Errorf("Compare(%+v, %+v) = %q (note %q), want %q", tt.a, tt.b, got.Class, got.Note, tt.want)
			}
		})
	}
}

func TestCompareNotes(t *testing.T) {
	tests := []struct {
		a, b Outcome
		want Comparison
	}{
		{oPass, oTSkip, Comparison{results.ClassUnknown,
			"test-pass vs test-skipped: the toolchains did not run the same mode, the results cannot be compared"}},
		{oPass, bf("oom"), Comparison{results.ClassSpuriousRegressed, "spurious failure reason: oom"}},
		{bf("timeout"), tf("oom"), Comparison{results.ClassSpuriousFixed, "spurious failure reason: timeout"}},
		{tf("timeout"), bf("oom"), Comparison{results.ClassSpuriousRegressed, "spurious failure reason: oom"}},
		{bf("unknown"), bf("ice"), Comparison{results.ClassRegressed, "internal compiler error with the new toolchain"}},
		{oPass, bf("depends-on(foo)"), Comparison{results.ClassRegressed, "a dependency failed: depends-on(foo)"}},
		{oPass, oNone, Comparison{results.ClassPending, "waiting for the new toolchain"}},
		{oNone, oPass, Comparison{results.ClassPending, "waiting for the baseline toolchain"}},
		{oPass, oPass, Comparison{results.ClassSameTestPass, ""}},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%+v, %+v) = %+v, want %+v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCompareNeverPanics(t *testing.T) {
	odd := []Outcome{oNone, {Status: "x"}, {Status: "test-pass", Reason: "\x00<>"}, {Status: "build-fail", Reason: "ice"}}
	for _, a := range append(odd, oBroken, oPass, oTSkip) {
		for _, b := range append(odd, oBroken, oPass, oTSkip) {
			if c := Compare(a, b); c.Class == "" {
				t.Errorf("Compare(%+v, %+v): empty class", a, b)
			}
		}
	}
}
