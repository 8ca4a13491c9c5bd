package reporter

import (
	"fmt"
	"testing"

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
		want Class
	}{
		// Every pair of the 8 statuses, baseline (a) by row.
		{oBroken, oBroken, ClassBroken},
		{oBroken, oPrepare, ClassBroken},
		{oBroken, oBuild, ClassBroken},
		{oBroken, oTest, ClassBroken},
		{oBroken, oTSkip, ClassBroken},
		{oBroken, oPass, ClassBroken},
		{oBroken, oSkipped, ClassSkipped},
		{oBroken, oError, ClassBroken},

		{oPrepare, oBroken, ClassBroken},
		{oPrepare, oPrepare, ClassPrepareFail},
		{oPrepare, oBuild, ClassPrepareFail},
		{oPrepare, oTest, ClassPrepareFail},
		{oPrepare, oTSkip, ClassPrepareFail},
		{oPrepare, oPass, ClassPrepareFail},
		{oPrepare, oSkipped, ClassSkipped},
		{oPrepare, oError, ClassPrepareFail},

		{oBuild, oBroken, ClassBroken},
		{oBuild, oPrepare, ClassPrepareFail},
		{oBuild, oBuild, ClassSameBuildFail},
		{oBuild, oTest, ClassFixed},
		{oBuild, oTSkip, ClassFixed},
		{oBuild, oPass, ClassFixed},
		{oBuild, oSkipped, ClassSkipped},
		{oBuild, oError, ClassError},

		{oTest, oBroken, ClassBroken},
		{oTest, oPrepare, ClassPrepareFail},
		{oTest, oBuild, ClassRegressed},
		{oTest, oTest, ClassSameTestFail},
		{oTest, oTSkip, ClassUnknown},
		{oTest, oPass, ClassFixed},
		{oTest, oSkipped, ClassSkipped},
		{oTest, oError, ClassError},

		{oTSkip, oBroken, ClassBroken},
		{oTSkip, oPrepare, ClassPrepareFail},
		{oTSkip, oBuild, ClassRegressed},
		{oTSkip, oTest, ClassUnknown},
		{oTSkip, oTSkip, ClassSameTestSkipped},
		{oTSkip, oPass, ClassUnknown},
		{oTSkip, oSkipped, ClassSkipped},
		{oTSkip, oError, ClassError},

		{oPass, oBroken, ClassBroken},
		{oPass, oPrepare, ClassPrepareFail},
		{oPass, oBuild, ClassRegressed},
		{oPass, oTest, ClassRegressed},
		{oPass, oTSkip, ClassUnknown},
		{oPass, oPass, ClassSameTestPass},
		{oPass, oSkipped, ClassSkipped},
		{oPass, oError, ClassError},

		{oSkipped, oBroken, ClassSkipped},
		{oSkipped, oPrepare, ClassSkipped},
		{oSkipped, oBuild, ClassSkipped},
		{oSkipped, oTest, ClassSkipped},
		{oSkipped, oTSkip, ClassSkipped},
		{oSkipped, oPass, ClassSkipped},
		{oSkipped, oSkipped, ClassSkipped},
		{oSkipped, oError, ClassSkipped},

		{oError, oBroken, ClassBroken},
		{oError, oPrepare, ClassPrepareFail},
		{oError, oBuild, ClassError},
		{oError, oTest, ClassError},
		{oError, oTSkip, ClassError},
		{oError, oPass, ClassError},
		{oError, oSkipped, ClassSkipped},
		{oError, oError, ClassError},

		// Internal compiler errors.
		{bf("ice"), bf("ice"), ClassSameBuildFail},
		{bf("compiler-error(E0277)"), bf("ice"), ClassRegressed},
		{bf("unknown"), bf("ice"), ClassRegressed},
		{bf("oom"), bf("ice"), ClassRegressed},
		{bf("ice"), bf("compiler-error(E0277)"), ClassSameBuildFail},
		{oPass, bf("ice"), ClassRegressed},
		{bf("ice"), oPass, ClassFixed},

		// Spurious reasons: the new failure when regressed, the old one
		// when fixed, between build-fail and test-fail too.
		{oPass, bf("oom"), ClassSpuriousRegressed},
		{oPass, bf("no-space"), ClassSpuriousRegressed},
		{oPass, tf("timeout"), ClassSpuriousRegressed},
		{oTSkip, bf("network-access"), ClassSpuriousRegressed},
		{oTest, bf("sandbox-error"), ClassSpuriousRegressed},
		{oTest, bf("log-unavailable"), ClassSpuriousRegressed},
		{tf("oom"), bf("compiler-error(E0308)"), ClassRegressed},
		{oPass, bf("compiler-diagnostic-change"), ClassSpuriousRegressed},
		// A build that hangs silently under the new toolchain: crater's
		// no-output timeout is a timeout.
		{oPass, bf(streams.ReasonNoOutputTimeout), ClassSpuriousRegressed},
		{oPass, tf(streams.ReasonNoOutputTimeout), ClassSpuriousRegressed},
		// A reason this build does not know is the crate's failure.
		{oPass, bf("some-reason-crater-adds"), ClassRegressed},
		{bf("oom"), oPass, ClassSpuriousFixed},
		{tf("timeout"), oPass, ClassSpuriousFixed},
		{bf("no-space"), oTSkip, ClassSpuriousFixed},
		{bf("oom"), oTest, ClassSpuriousFixed},
		{bf("compiler-error(E0308)"), tf("timeout"), ClassFixed},
		{bf("oom"), bf("timeout"), ClassSameBuildFail},
		{tf("oom"), tf("unknown"), ClassSameTestFail},
		{oPass, bf("depends-on(foo)"), ClassRegressed},
		{tf("oom"), tf("oom"), ClassSameTestFail},
		// Only the failing side's reason counts.
		{Outcome{streams.StatusTestPass, "oom"}, bf("unknown"), ClassRegressed},
		{bf("unknown"), Outcome{streams.StatusTestPass, "oom"}, ClassFixed},
		// Reasons are matched exactly.
		{oPass, bf("OOM"), ClassRegressed},

		// Not finished, or nonsense.
		{oNone, oNone, ClassPending},
		{oPass, oNone, ClassPending},
		{oNone, oBuild, ClassPending},
		{oNone, oError, ClassPending},
		{Outcome{Status: "exploded"}, oPass, ClassUnknown},
		{oPass, Outcome{Status: "exploded"}, ClassUnknown},
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
		{oPass, oTSkip, Comparison{ClassUnknown,
			"test-pass vs test-skipped: the toolchains did not run the same mode, the results cannot be compared"}},
		{oPass, bf("oom"), Comparison{ClassSpuriousRegressed, "spurious failure reason: oom"}},
		{bf("timeout"), tf("oom"), Comparison{ClassSpuriousFixed, "spurious failure reason: timeout"}},
		{tf("timeout"), bf("oom"), Comparison{ClassSpuriousRegressed, "spurious failure reason: oom"}},
		{bf("unknown"), bf("ice"), Comparison{ClassRegressed, "internal compiler error with the new toolchain"}},
		{oPass, bf("depends-on(foo)"), Comparison{ClassRegressed, "a dependency failed: depends-on(foo)"}},
		{oPass, oNone, Comparison{ClassPending, "waiting for the new toolchain"}},
		{oNone, oPass, Comparison{ClassPending, "waiting for the baseline toolchain"}},
		{oPass, oPass, Comparison{ClassSameTestPass, ""}},
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
