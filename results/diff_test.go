package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func reportOf(t *testing.T, exp string, toolchains []string, crates ...CrateResult) *bytes.Reader {
	t.Helper()
	data, err := json.Marshal(File{V: FileVersion, Experiment: exp, Toolchains: toolchains, Crates: append([]CrateResult{}, crates...)})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

func TestCompare(t *testing.T) {
	crate := func(name, version string, class Class) CrateResult {
		return CrateResult{Name: name, Version: version, Class: class}
	}
	a := []CrateResult{
		crate("alpha", "1.0.0", ClassSameTestPass),
		crate("beta", "1.0.0", ClassRegressed),
		crate("gamma", "1.0.0", ClassRegressed),
		crate("delta", "0.9.0", ClassSameBuildFail),
		crate("eps", "1.0.0", ClassPending),
		crate("multi", "1.0.0", ClassSameTestPass),
		crate("multi", "2.0.0", ClassSameTestPass),
		crate("gone", "1.0.0", ClassSameTestPass),
	}
	b := []CrateResult{
		crate("alpha", "1.0.0", ClassRegressed),    // new
		crate("beta", "1.0.0", ClassSameTestPass),  // gone
		crate("gamma", "1.0.0", ClassRegressed),    // known
		crate("delta", "1.0.0", ClassSameTestPass), // a newer release
		crate("eps", "1.0.0", ClassRegressed),      // pending in a
		crate("multi", "3.0.0", ClassRegressed),    // no version to match among several
		crate("new", "1.0.0", ClassSameTestPass),
	}
	d, err := Compare(reportOf(t, "last-week", []string{"stable", "nightly-2026-11-30"}, a...),
		reportOf(t, "this-week", []string{"stable", "nightly-2026-12-07"}, b...))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Name: "alpha", VersionA: "1.0.0", VersionB: "1.0.0", ClassA: ClassSameTestPass, ClassB: ClassRegressed},
		{Name: "beta", VersionA: "1.0.0", VersionB: "1.0.0", ClassA: ClassRegressed, ClassB: ClassSameTestPass},
		{Name: "delta", VersionA: "0.9.0", VersionB: "1.0.0", ClassA: ClassSameBuildFail, ClassB: ClassSameTestPass},
	}
	if !slices.Equal(d.Changes, want) {
		t.Errorf("changes:\n%+v\nwant\n%+v", d.Changes, want)
	}
	if d.Same != 1 || d.Pending != 1 || d.OnlyA != 3 || d.OnlyB != 2 || !slices.Equal(d.Shared, []string{"stable"}) {
		t.Errorf("same %d, pending %d, only a %d, only b %d, shared %v; want 1, 1, 3, 2, [stable]", d.Same, d.Pending, d.OnlyA, d.OnlyB, d.Shared)
	}
	if !d.Changes[0].NewRegression() || d.Changes[0].GoneRegression() || !d.Changes[1].GoneRegression() || d.Changes[2].NewRegression() {
		t.Error("new and gone regressions misread")
	}

	_, err = Compare(reportOf(t, "x", []string{"stable", "nightly"}), reportOf(t, "y", []string{"beta", "1.80.0"}))
	if !errors.Is(err, ErrNoSharedToolchain) {
		t.Errorf("reports sharing no toolchain: %v, want ErrNoSharedToolchain", err)
	}
	if _, err := Compare(bytes.NewReader([]byte("not json")), reportOf(t, "y", []string{"stable"})); err == nil {
		t.Error("a broken report: no error")
	}
}
