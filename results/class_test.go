package results

import "testing"

// TestCraterName checks every class against crater's Comparison names
// (rust-lang/crater src/report/mod.rs, string_enum Comparison).
func TestCraterName(t *testing.T) {
	crater := map[string]bool{
		"regressed": true, "fixed": true, "skipped": true, "unknown": true, "error": true,
		"broken": true, "prepare-fail": true, "build-fail": true, "test-fail": true,
		"test-skipped": true, "test-pass": true, "spurious-regressed": true, "spurious-fixed": true,
	}
	tests := []struct {
		class Class
		want  string
	}{
		{ClassRegressed, "regressed"},
		{ClassSpuriousRegressed, "spurious-regressed"},
		{ClassFixed, "fixed"},
		{ClassSpuriousFixed, "spurious-fixed"},
		{ClassSameBuildFail, "build-fail"},
		{ClassSameTestFail, "test-fail"},
		{ClassSameTestSkipped, "test-skipped"},
		{ClassSameTestPass, "test-pass"},
		{ClassBroken, "broken"},
		{ClassPrepareFail, "prepare-fail"},
		{ClassSkipped, "skipped"},
		{ClassError, "error"},
		{ClassUnknown, "unknown"},
		{ClassPending, "unknown"},
		{ClassFlaky, "spurious-regressed"},
	}
	seen := map[Class]bool{}
	for _, tt := range tests {
		seen[tt.class] = true
		if got := tt.class.CraterName(); got != tt.want || !crater[got] {
			t.Errorf("%s: crater name %q, want %q (one of crater's)", tt.class, got, tt.want)
		}
	}
	for _, c := range Classes {
		if !seen[c] {
			t.Errorf("class %s has no row", c)
		}
	}
}
