package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/streams"
)

// putCraterExperiment stores an experiment record with the toolchains tcs.
func (e *env) putCraterExperiment(name string, crates int, tcs ...string) {
	e.t.Helper()
	rec := streams.Experiment{V: 1, Name: name, Toolchains: tcs,
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list", Priority: 3,
		Crates: crates, Jobs: 2 * crates, Published: 2 * crates, CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		e.t.Fatalf("put experiment: %v", err)
	}
}

// TestCraterView runs an experiment with a regression, a fix, a same
// failure, a broken crate and names that need encoding through the
// reporter, and decodes its crater view as crater would.
func TestCraterView(t *testing.T) {
	const exp = "crv"
	const base, next = "stable", "/opt/rust+stage2"
	e := newEnv(t)
	e.putCraterExperiment(exp, 5, base, next)
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1})
	pairOf := func(name, version string, a, b Outcome) {
		e.publish(result(exp, name, version, base, 1, a.Status, a.Reason))
		e.publish(result(exp, name, version, next, 1, b.Status, b.Reason))
	}
	broken := Outcome{Status: streams.StatusBroken}
	pairOf("regress", "1.0.0", oPass, bf(streams.CompilerError("E0308")))
	pairOf("mended", "2.1.0", bf(""), oPass)
	pairOf("stuck", "0.3.0", bf(streams.DependsOn("serde@1.0.1")), bf(streams.DependsOn("serde@1.0.1")))
	pairOf("shattered", "1.0.0", broken, broken)
	pairOf("plus", "1.0.0+build.5", oPass, oPass)
	e.waitResults(exp, 10)

	file := func(name string) []byte {
		return e.store.read(t, streams.ExperimentPrefix(exp)+name)
	}
	var cfg []byte
	waitFor(t, "crater config.json completed", func() bool {
		cfg = file(craterConfigFileName)
		return bytes.Contains(cfg, []byte(`"status":"completed"`))
	})

	var raw cratertest.RawTestResults
	cratertest.MustDecode(t, "results.json", file(craterResultsFileName), &raw)
	type want struct {
		res        string
		runs       [2]string
		nameLogged string
	}
	wants := map[string]want{
		"regress":   {"regressed", [2]string{"test-pass", "build-fail:compiler-error(E0308)"}, "regress-1.0.0"},
		"mended":    {"fixed", [2]string{"build-fail:unknown", "test-pass"}, "mended-2.1.0"},
		"stuck":     {"build-fail", [2]string{"build-fail:depends-on(reg/serde/1.0.1)", "build-fail:depends-on(reg/serde/1.0.1)"}, "stuck-0.3.0"},
		"shattered": {"broken", [2]string{"broken:unknown", "broken:unknown"}, "shattered-1.0.0"},
		"plus":      {"test-pass", [2]string{"test-pass", "test-pass"}, "plus-1.0.0%2Bbuild.5"},
	}
	seen := map[string]bool{}
	for i, data := range raw.Crates {
		var c cratertest.CrateResult
		cratertest.MustDecode(t, fmt.Sprintf("crates[%d]", i), data, &c, "status")
		if len(c.Krate) != 1 || c.Krate["Registry"] == nil {
			t.Fatalf("crates[%d].krate: want the one variant Registry: %s", i, data)
		}
		var reg cratertest.RegistryCrate
		cratertest.MustDecode(t, "krate.Registry", c.Krate["Registry"], &reg)
		w, ok := wants[reg.Name]
		if !ok {
			t.Errorf("unexpected crate %s", reg.Name)
			continue
		}
		seen[reg.Name] = true
		if c.Name != reg.Name+"-"+reg.Version || c.URL != "https://crates.io/crates/"+reg.Name+"/"+reg.Version {
			t.Errorf("%s: name %q, url %q", reg.Name, c.Name, c.URL)
		}
		if c.Res != w.res || !slices.Contains(cratertest.Comparisons, c.Res) {
			t.Errorf("%s: res %q, want %q", reg.Name, c.Res, w.res)
		}
		if len(c.Runs) != 2 {
			t.Fatalf("%s: %d runs, want 2", reg.Name, len(c.Runs))
		}
		for j, run := range c.Runs {
			if run == nil {
				t.Errorf("%s: run %d null", reg.Name, j)
				continue
			}
			if run.Res != w.runs[j] || cratertest.ParseTestResult(run.Res) != nil {
				t.Errorf("%s: run %d res %q, want %q", reg.Name, j, run.Res, w.runs[j])
			}
			tc := [2]string{"stable", "%252Fopt%252Frust%2Bstage2"}[j]
			if wantLog := tc + "/reg/" + w.nameLogged; run.Log != wantLog {
				t.Errorf("%s: run %d log %q, want %q", reg.Name, j, run.Log, wantLog)
			}
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("crates %v, want %d", seen, len(wants))
	}

	var c cratertest.Experiment
	cratertest.MustDecode(t, "config.json", cfg, &c)
	if c.Name != exp || c.Mode != "build-and-test" || c.CapLints != "forbid" || c.Priority != 3 || c.Status != "completed" || c.CompletedAt == nil ||
		c.StartedAt == nil || !c.StartedAt.Equal(c.CreatedAt) {
		t.Errorf("config.json: %s", cfg)
	}
	if len(c.Toolchains) != 2 {
		t.Fatalf("config.json: %d toolchains, want 2", len(c.Toolchains))
	}
	for i, tc := range c.Toolchains {
		cratertest.MustDecode(t, fmt.Sprintf("toolchains[%d]", i), mustJSON(t, tc), &cratertest.Toolchain{})
		var src cratertest.DistToolchain
		cratertest.MustDecode(t, fmt.Sprintf("toolchains[%d].source", i), tc.Source, &src)
		if want := []string{base, next}[i]; src.Type != "dist" || src.Name != want || tc.Patches == nil {
			t.Errorf("toolchains[%d]: source %+v, patches %v; want dist %s, []", i, src, tc.Patches, want)
		}
	}

	if got := string(file(craterRetryListFileName)); got != "regress\n" {
		t.Errorf("retry-regressed-list.txt: %q, want %q", got, "regress\n")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
