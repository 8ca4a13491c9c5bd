package reporter

import (
	"fmt"
	"testing"

	"github.com/ejecta-build/ejecta/results"
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
	want results.Class
}{
	{craterBuildFail(craterUnknown), craterBuildFail(craterUnknown), results.ClassSameBuildFail},
	{craterTestFail(craterUnknown), craterTestFail(craterUnknown), results.ClassSameTestFail},
	{craterTestSkipped, craterTestSkipped, results.ClassSameTestSkipped},
	{craterTestPass, craterTestPass, results.ClassSameTestPass},

	// Non-spurious fixes/regressions
	{craterBuildFail(craterUnknown), craterTestFail(craterUnknown), results.ClassFixed},
	{craterBuildFail(craterUnknown), craterTestFail(craterOOM), results.ClassFixed}, // crater eb860bd
	{craterBuildFail(craterUnknown), craterTestSkipped, results.ClassFixed},
	{craterBuildFail(craterUnknown), craterTestPass, results.ClassFixed},
	{craterTestFail(craterUnknown), craterTestPass, results.ClassFixed},
	{craterTestPass, craterTestFail(craterUnknown), results.ClassRegressed},
	{craterTestPass, craterBuildFail(craterUnknown), results.ClassRegressed},
	{craterTestSkipped, craterBuildFail(craterUnknown), results.ClassRegressed},
	{craterTestFail(craterUnknown), craterBuildFail(craterUnknown), results.ClassRegressed},
	{craterTestFail(craterOOM), craterBuildFail(craterUnknown), results.ClassRegressed}, // crater 1ba0233

	// ICE is special
	{craterBuildFail(craterUnknown), craterBuildFail(craterICE), results.ClassRegressed},
	{craterBuildFail(craterOOM), craterBuildFail(craterICE), results.ClassRegressed},
	{craterBuildFail(craterICE), craterBuildFail(craterICE), results.ClassSameBuildFail},

	// Spurious fixes/regressions
	{craterBuildFail(craterOOM), craterTestFail(craterUnknown), results.ClassSpuriousFixed},
	{craterBuildFail(craterOOM), craterTestSkipped, results.ClassSpuriousFixed},
	{craterBuildFail(craterOOM), craterTestPass, results.ClassSpuriousFixed},
	{craterTestFail(craterOOM), craterTestPass, results.ClassSpuriousFixed},
	{craterTestPass, craterTestFail(craterOOM), results.ClassSpuriousRegressed},
	{craterTestPass, craterBuildFail(craterOOM), results.ClassSpuriousRegressed},
	{craterTestSkipped, craterBuildFail(craterOOM), results.ClassSpuriousRegressed},
	{craterTestFail(craterUnknown), craterBuildFail(craterOOM), results.ClassSpuriousRegressed},

	// PrepareFail
	{craterPrepareFail(craterUnknown), craterBuildFail(craterUnknown), results.ClassPrepareFail},
	{craterBuildFail(craterUnknown), craterPrepareFail(craterUnknown), results.ClassPrepareFail},
	{craterPrepareFail(craterUnknown), craterError, results.ClassPrepareFail}, // crater e3fbe04
	{craterError, craterPrepareFail(craterUnknown), results.ClassPrepareFail}, // crater e3fbe04

	// Errors
	{craterError, craterTestPass, results.ClassError},
	{craterError, craterTestSkipped, results.ClassError},
	{craterError, craterTestFail(craterUnknown), results.ClassError},
	{craterError, craterBuildFail(craterUnknown), results.ClassError},
	{craterTestPass, craterError, results.ClassError},
	{craterTestSkipped, craterError, results.ClassError},
	{craterTestFail(craterUnknown), craterError, results.ClassError},
	{craterBuildFail(craterUnknown), craterError, results.ClassError},

	// Skipped
	{craterSkipped, craterSkipped, results.ClassSkipped},
	{craterSkipped, craterTestPass, results.ClassSkipped},
	{craterSkipped, craterTestSkipped, results.ClassSkipped},
	{craterSkipped, craterTestFail(craterUnknown), results.ClassSkipped},
	{craterSkipped, craterBuildFail(craterUnknown), results.ClassSkipped},
	{craterTestPass, craterSkipped, results.ClassSkipped},
	{craterTestSkipped, craterSkipped, results.ClassSkipped},
	{craterTestFail(craterUnknown), craterSkipped, results.ClassSkipped},
	{craterBuildFail(craterUnknown), craterSkipped, results.ClassSkipped},

	// Broken
	{craterBrokenCrate(), craterTestPass, results.ClassBroken},
	{craterBrokenCrate(), craterTestSkipped, results.ClassBroken},
	{craterBrokenCrate(), craterTestFail(craterUnknown), results.ClassBroken},
	{craterBrokenCrate(), craterBuildFail(craterUnknown), results.ClassBroken},
	{craterTestPass, craterBrokenCrate(), results.ClassBroken},
	{craterTestSkipped, craterBrokenCrate(), results.ClassBroken},
	{craterTestFail(craterUnknown), craterBrokenCrate(), results.ClassBroken},
	{craterBuildFail(craterUnknown), craterBrokenCrate(), results.ClassBroken},

	{craterPrepareFail(craterUnknown), craterBrokenCrate(), results.ClassBroken},
	{craterBrokenCrate(), craterPrepareFail(craterUnknown), results.ClassBroken},
	{craterBrokenCrate(), craterError, results.ClassBroken}, // crater e3fbe04
	{craterError, craterBrokenCrate(), results.ClassBroken}, // crater e3fbe04
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
		if got.Class != results.ClassUnknown || got.Note == "" {
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
		reg, fix := results.ClassRegressed, results.ClassFixed
		if tt.spurious {
			reg, fix = results.ClassSpuriousRegressed, results.ClassSpuriousFixed
		}
		for _, c := range []struct {
			a, b Outcome
			want results.Class
		}{
			{craterTestPass, craterBuildFail(tt.reason), reg},
			{craterTestPass, craterTestFail(tt.reason), reg},
			{craterTestFail(craterUnknown), craterBuildFail(tt.reason), reg},
			{craterTestFail(tt.reason), craterBuildFail(craterUnknown), results.ClassRegressed},
			{craterBuildFail(tt.reason), craterTestPass, fix},
			{craterBuildFail(tt.reason), craterTestFail(craterUnknown), fix},
			{craterBuildFail(craterUnknown), craterTestFail(tt.reason), results.ClassFixed},
		} {
			if got := Compare(c.a, c.b); got.Class != c.want {
				t.Errorf("Compare(%+v, %+v) = %q, want %q", c.a, c.b, got.Class, c.want)
			}
		}
	}
}
