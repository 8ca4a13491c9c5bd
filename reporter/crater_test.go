package reporter

import (
	"fmt"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// crater's types, spelled as crater spells them so that the table below
// reads as crater's does, mapped to ejecta's:
//
//   - TestResult: BrokenCrate(_) is status broken (crater's BrokenReason
//     is a vocabulary of its own, which ejecta's broken results do not
//     carry), PrepareFail(r), BuildFail(r), TestFail(r) the statuses of the
//     same names with reason r, TestSkipped, TestPass, Skipped and Error
//     the statuses of the same names without a reason;
//   - FailureReason: the streams.Reason of the same crater name
//     (streams.Reason.CraterName): Unknown is unknown, OOM oom, ICE ice.
func craterBrokenCrate() Outcome                 { return Outcome{Status: streams.StatusBroken} }
func craterPrepareFail(r streams.Reason) Outcome { return Outcome{streams.StatusPrepareFail, r} }
func craterBuildFail(r streams.Reason) Outcome   { return Outcome{streams.StatusBuildFail, r} }
func craterTestFail(r streams.Reason) Outcome    { return Outcome{streams.StatusTestFail, r} }

var (
	craterTestSkipped = Outcome{Status: streams.StatusTestSkipped}
	craterTestPass    = Outcome{Status: streams.StatusTestPass}
	craterSkipped     = Outcome{Status: streams.StatusSkipped}
	craterError       = Outcome{Status: streams.StatusError}

	craterUnknown = streams.ReasonUnknown
	craterOOM     = streams.ReasonOOM
	craterICE     = streams.ReasonICE
)

// craterCompareTable is crater's whole test_compare table, all 58 rows,
// in crater's order: rust-lang/crater src/report/mod.rs, fn test_compare,
// at commit 102a0c7b0e4298e7f21c8e177120b6e143409d63 (2026-03-25, "Merge
// pull request #829 from Skgland/handle_other_prepare_errors"; the table
// was last changed by e3fbe04b3f7261d11120120940088ecf8499c448 of
// 2025-07-05). The rows marked "crater <commit>" are those where crater's
// rules had moved away from ejecta's earlier ones: a regression is judged
// by the new side's reason alone (1ba0233, 2023-11), a fix by the old
// side's (eb860bd, 2025-05), and skipped, broken and prepare-fail come
// before error (e3fbe04, 2025-07).
var craterCompareTable = []struct {
	a, b Outcome
	want Class
}{
	{craterBuildFail(craterUnknown), craterBuildFail(craterUnknown), ClassSameBuildFail},
	{craterTestFail(craterUnknown), craterTestFail(craterUnknown), ClassSameTestFail},
	{craterTestSkipped, craterTestSkipped, ClassSameTestSkipped},
	{craterTestPass, craterTestPass, ClassSameTestPass},

	// Non-spurious fixes/regressions
	{craterBuildFail(craterUnknown), craterTestFail(craterUnknown), ClassFixed},
	{craterBuildFail(craterUnknown), craterTestFail(craterOOM), ClassFixed}, // crater eb860bd
	{craterBuildFail(craterUnknown), craterTestSkipped, ClassFixed},
	{craterBuildFail(craterUnknown), craterTestPass, ClassFixed},
	{craterTestFail(craterUnknown), craterTestPass, ClassFixed},
	{craterTestPass, craterTestFail(craterUnknown), ClassRegressed},
	{craterTestPass, craterBuildFail(craterUnknown), ClassRegressed},
	{craterTestSkipped, craterBuildFail(craterUnknown), ClassRegressed},
	{craterTestFail(craterUnknown), craterBuildFail(craterUnknown), ClassRegressed},
	{craterTestFail(craterOOM), craterBuildFail(craterUnknown), ClassRegressed}, // crater 1ba0233

	// ICE is special
	{craterBuildFail(craterUnknown), craterBuildFail(craterICE), ClassRegressed},
	{craterBuildFail(craterOOM), craterBuildFail(craterICE), ClassRegressed},
	{craterBuildFail(craterICE), craterBuildFail(craterICE), ClassSameBuildFail},

	// Spurious fixes/regressions
	{craterBuildFail(craterOOM), craterTestFail(craterUnknown), ClassSpuriousFixed},
	{craterBuildFail(craterOOM), craterTestSkipped, ClassSpuriousFixed},
	{craterBuildFail(craterOOM), craterTestPass, ClassSpuriousFixed},
	{craterTestFail(craterOOM), craterTestPass, ClassSpuriousFixed},
	{craterTestPass, craterTestFail(craterOOM), ClassSpuriousRegressed},
	{craterTestPass, craterBuildFail(craterOOM), ClassSpuriousRegressed},
	{craterTestSkipped, craterBuildFail(craterOOM), ClassSpuriousRegressed},
	{craterTestFail(craterUnknown), craterBuildFail(craterOOM), ClassSpuriousRegressed},

	// PrepareFail
	{craterPrepareFail(craterUnknown), craterBuildFail(craterUnknown), ClassPrepareFail},
	{craterBuildFail(craterUnknown), craterPrepareFail(craterUnknown), ClassPrepareFail},
	{craterPrepareFail(craterUnknown), craterError, ClassPrepareFail}, // crater e3fbe04
	{craterError, craterPrepareFail(craterUnknown), ClassPrepareFail}, // crater e3fbe04

	// Errors
	{craterError, craterTestPass, ClassError},
	{craterError, craterTestSkipped, ClassError},
	{craterError, craterTestFail(craterUnknown), ClassError},
	{craterError, craterBuildFail(craterUnknown), ClassError},
	{craterTestPass, craterError, ClassError},
	{craterTestSkipped, craterError, ClassError},
	{craterTestFail(craterUnknown), craterError, ClassError},
	{craterBuildFail(craterUnknown), craterError, ClassError},

	// Skipped
	{craterSkipped, craterSkipped, ClassSkipped},
	{craterSkipped, craterTestPass, ClassSkipped},
	{craterSkipped, craterTestSkipped, ClassSkipped},
	{craterSkipped, craterTestFail(craterUnknown), ClassSkipped},
	{craterSkipped, craterBuildFail(craterUnknown), ClassSkipped},
	{craterTestPass, craterSkipped, ClassSkipped},
	{craterTestSkipped, craterSkipped, ClassSkipped},
	{craterTestFail(craterUnknown), craterSkipped, ClassSkipped},
	{craterBuildFail(craterUnknown), craterSkipped, ClassSkipped},

	// Broken
	{craterBrokenCrate(), craterTestPass, ClassBroken},
	{craterBrokenCrate(), craterTestSkipped, ClassBroken},
	{craterBrokenCrate(), craterTestFail(craterUnknown), ClassBroken},
	{craterBrokenCrate(), craterBuildFail(craterUnknown), ClassBroken},
	{craterTestPass, craterBrokenCrate(), ClassBroken},
	{craterTestSkipped, craterBrokenCrate(), ClassBroken},
	{craterTestFail(craterUnknown), craterBrokenCrate(), ClassBroken},
	{craterBuildFail(craterUnknown), craterBrokenCrate(), ClassBroken},

	{craterPrepareFail(craterUnknown), craterBrokenCrate(), ClassBroken},
	{craterBrokenCrate(), craterPrepareFail(craterUnknown), ClassBroken},
	{craterBrokenCrate(), craterError, ClassBroken}, // crater e3fbe04
	{craterError, craterBrokenCrate(), ClassBroken}, // crater e3fbe04
}

// TestCompareMatchesCrater runs crater's own comparison table through
// Compare. Crater's compare(None, None), the assertion after its table, is
// unknown (skipped for a crate its config skips); ejecta reports a crate
// without both results as pending instead, which TestCompare covers.
func TestCompareMatchesCrater(t *testing.T) {
	if n := len(craterCompareTable); n != 58 {
		t.Fatalf("crater's table has 58 rows, this copy %d", n)
	}
	for i, tt := range craterCompareTable {
		name := fmt.Sprintf("%d:%s(%s)->%s(%s)", i+1, tt.a.Status, tt.a.Reason, tt.b.Status, tt.b.Reason)
		t.Run(name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got.Class != tt.want {
				t.Errorf("Compare(%+v, %+v) = %q (note %q), crater says %q", tt.a, tt.b, got.Class, got.Note, tt.want)
			}
		})
	}
}

// TestCompareWhereCraterPanics: crater panics on a test-skipped result
// against test-fail or test-pass (the toolchains ran different modes);
// Compare says unknown, with a note, whichever side is which.
func TestCompareWhereCraterPanics(t *testing.T) {
	for _, tt := range []struct{ a, b Outcome }{
		{craterTestPass, craterTestSkipped},
		{craterTestSkipped, craterTestPass},
		{craterTestFail(craterUnknown), craterTestSkipped},
		{craterTestSkipped, craterTestFail(craterOOM)},
	} {
		got := Compare(tt.a, tt.b)
		if got.Class != ClassUnknown || got.Note == "" {
			t.Errorf("Compare(%+v, %+v) = %+v, want unknown with a note", tt.a, tt.b, got)
		}
	}
}

// TestCompareEveryCraterReason runs each of crater's failure reasons, in
// ejecta's spelling, through crater's rules for a regression and a fix:
// spurious ones make spurious-regressed and spurious-fixed, the others
// regressed and fixed, as crater's FailureReason::is_spurious says.
func TestCompareEveryCraterReason(t *testing.T) {
	for _, tt := range []struct {
		reason   streams.Reason
		spurious bool
	}{
		{streams.ReasonUnknown, false},
		{streams.ReasonOOM, true},
		{streams.ReasonNoSpace, true},
		{streams.ReasonTimeout, true},
		{streams.ReasonNoOutputTimeout, true}, // crater's no-output timeout is a timeout
		{streams.ReasonICE, false},
		{streams.ReasonNetworkAccess, true},
		{streams.ReasonSandboxError, true}, // crater: docker
		{streams.ReasonCompilerDiagnosticChange, true},
		{streams.CompilerError("E0277", "E0308"), false},
		{streams.DependsOn("serde"), false},
	} {
		reg, fix := ClassRegressed, ClassFixed
		if tt.spurious {
			reg, fix = ClassSpuriousRegressed, ClassSpuriousFixed
		}
		for _, c := range []struct {
			a, b Outcome
			want Class
		}{
			{craterTestPass, craterBuildFail(tt.reason), reg},
			{craterTestPass, craterTestFail(tt.reason), reg},
			{craterTestFail(craterUnknown), craterBuildFail(tt.reason), reg},
			{craterTestFail(tt.reason), craterBuildFail(craterUnknown), ClassRegressed},
			{craterBuildFail(tt.reason), craterTestPass, fix},
			{craterBuildFail(tt.reason), craterTestFail(craterUnknown), fix},
			{craterBuildFail(craterUnknown), craterTestFail(tt.reason), ClassFixed},
		} {
			if got := Compare(c.a, c.b); got.Class != c.want {
				t.Errorf("Compare(%+v, %+v) = %q, want %q", c.a, c.b, got.Class, c.want)
			}
		}
	}
}
