package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
)

// experiment compare prints the crates whose class changed, as text, as
// markdown to paste and as JSON, and refuses reports it cannot compare.
func TestExperimentCompare(t *testing.T) {
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(exp string, toolchains []string, crates ...results.CrateResult) {
		t.Helper()
		data, _ := json.Marshal(results.File{V: results.FileVersion, Experiment: exp, Toolchains: toolchains, Crates: append([]results.CrateResult{}, crates...)})
		if err := st.Put(context.Background(), results.Key(exp), bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	put("before", []string{"stable", "nightly-2026-11-30"},
		results.CrateResult{Name: "alpha", Version: "1.0.0", Class: results.ClassSameTestPass},
		results.CrateResult{Name: "beta", Version: "1.0.0", Class: results.ClassRegressed},
		results.CrateResult{Name: "gamma", Version: "1.0.0", Class: results.ClassRegressed})
	put("after", []string{"stable", "nightly-2026-12-07"},
		results.CrateResult{Name: "alpha", Version: "1.0.0", Class: results.ClassRegressed},
		results.CrateResult{Name: "beta", Version: "1.0.1", Class: results.ClassSameTestPass},
		results.CrateResult{Name: "gamma", Version: "1.0.0", Class: results.ClassRegressed})
	put("other", []string{"beta", "1.80.0"}, results.CrateResult{Name: "alpha", Version: "1.0.0", Class: results.ClassSameTestPass})
	// No farm: the store is given.
	g := []string{"--nats", "nats://127.0.0.1:1", "--log-level", "error", "experiment", "compare", "--store", "file://" + dir}

	out, err := run(t, append(g, "before", "after")...)
	want := `before (stable, nightly-2026-11-30) → after (stable, nightly-2026-12-07), sharing stable

regressed in after, not in before (1):
  alpha 1.0.0: same-test-pass → regressed

regressed in before, not in after (1):
  beta 1.0.0 → 1.0.1: regressed → same-test-pass

same class: 1; pending in either: 0; only in before: 0; only in after: 0
`
	if err != nil || out != want {
		t.Errorf("compare: %v\n%s\nwant\n%s", err, out, want)
	}
	out, err = run(t, append(g, "before", "after", "-o", "markdown")...)
	if err != nil || !strings.Contains(out, "**regressed in after, not in before (1)**\n\n- `alpha` 1.0.0: same-test-pass → regressed\n") || strings.Contains(out, `\-`) {
		t.Errorf("compare -o markdown: %v\n%s", err, out)
	}
	out, err = run(t, append(g, "before", "after", "-o", "json")...)
	var d results.Diff
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || len(d.Changes) != 2 || d.Changes[0].Name != "alpha" || d.Same != 1 {
		t.Errorf("compare -o json: %v\n%s", err, out)
	}
	var ue usageError
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"before", "other"}, "share no toolchain"},
		{[]string{"before", "missing"}, "experiment missing has no report"},
		{[]string{"before"}, "want two experiments"},
	} {
		if _, err := run(t, append(g, c.args...)...); err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("compare %v: %v, want a usage error saying %q", c.args, err, c.want)
		}
	}
}
