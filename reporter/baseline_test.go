package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// An experiment with a baseline marks the regressions already known from
// it, in results.json, index.html and markdown.md; a new regression and a
// crate that regressed only in the baseline are not marked.
func TestBaselineRegressionsMarkedKnown(t *testing.T) {
	e := newEnv(t)
	last, _ := json.Marshal(results.File{V: results.FileVersion, Experiment: "last", Toolchains: []string{"stable", "nightly"},
		Crates: []results.CrateResult{
			{Name: "alpha", Version: "1.0.0", Class: results.ClassRegressed},
			{Name: "beta", Version: "1.0.0", Class: results.ClassRegressed},
			{Name: "gamma", Version: "1.0.0", Class: results.ClassSameTestPass},
		}})
	if err := e.store.Put(context.Background(), results.Key("last"), bytes.NewReader(last), int64(len(last)), ""); err != nil {
		t.Fatal(err)
	}
	e.putRecord(streams.Experiment{V: 1, Name: "this", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
		Crates: 3, Jobs: 6, Published: 6, CreatedAt: time.Now().UTC(), Baseline: "last"})
	for _, c := range []struct {
		name    string
		nightly streams.Status
	}{{"alpha", streams.StatusBuildFail}, {"beta", streams.StatusTestPass}, {"gamma", streams.StatusBuildFail}} {
		e.publish(result("this", c.name, "1.0.0", "stable", 1, streams.StatusTestPass, ""))
		e.publish(result("this", c.name, "1.0.0", "nightly", 1, c.nightly, "compiler-error(E0308)"))
	}
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1})

	f := e.waitResults("this", 6)
	for name, want := range map[string]string{"alpha": "last", "beta": "", "gamma": ""} {
		if got := crateByName(t, f, name).KnownFrom; got != want {
			t.Errorf("%s: known_from %q, want %q", name, got, want)
		}
	}
	md := string(tryRead(e.store, streams.ExperimentPrefix("this")+"markdown.md"))
	if !strings.Contains(md, "known from `last`") || strings.Count(md, "known from") != 1 {
		t.Errorf("markdown.md marks %d crates known, want alpha alone:\n%s", strings.Count(md, "known from"), md)
	}
	if index := string(tryRead(e.store, IndexKey("this"))); !strings.Contains(index, "known from last") {
		t.Errorf("index.html does not mark alpha known")
	}
}
