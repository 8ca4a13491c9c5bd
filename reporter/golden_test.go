package reporter

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the reporter as it is")

// TestReportGolden renders three writes of a report whose results mix
// every case a file shows differently (first errors with markup and
// non-ASCII text, shared targets, confirmation re-runs and their verdicts,
// a retry, a dispute, results without a log or with a foreign one,
// versions with + and -, upper-case names, a baseline's known
// regressions) and compares every object written, byte for byte, with
// testdata/golden: however the files are rendered, they must not change.
func TestReportGolden(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	r := &Reporter{cfg: Config{}.withDefaults(), tmpl: tmpl}
	e := newExperiment("gold", 2)
	e.web = "https://ejecta.example"
	rec := &streams.Experiment{V: 1, Name: "gold", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, Crates: 160, Jobs: 320, Baseline: "last-week",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.setRecord(rec)
	first := goldenResults()
	e.base.regressed = map[string]bool{}
	for i := 0; i < len(first); i += 14 {
		e.base.regressed[first[i].Crate] = true
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	applyAll := func(rs []streams.Result) {
		for i := range rs {
			e.apply(&rs[i], func(string) {})
		}
	}
	applyAll(first)
	checkGolden(t, "1", r, e, t0)
	applyAll(goldenReruns(e))
	checkGolden(t, "2", r, e, t0.Add(10*time.Second))
	// A page's write is not due a second later: results.json and the
	// other files only.
	late := result("gold", "zz-late", "0.1.0-rc.1", "stable", 1, streams.StatusTestPass, "")
	late.FinishedAt = t0
	applyAll([]streams.Result{late})
	checkGolden(t, "3", r, e, t0.Add(11*time.Second))
}

// goldenResults are the first-run results of the golden experiment.
func goldenResults() []streams.Result {
	rs := synthetic("gold", 150, 7)
	for i := range rs {
		r := &rs[i]
		n := i / 2
		switch {
		case n%9 == 0:
			r.Version = fmt.Sprintf("1.%d.0-alpha.%d+build.%d", n%3, n%4, n)
		case n%10 == 0:
			r.Version = fmt.Sprintf("0.%d.1+meta-%d", n%5, n)
		}
		if n%11 == 0 {
			r.SharedTarget = true
		}
		if r.Status == streams.StatusBuildFail && n%3 != 2 {
			r.FirstError = &streams.FirstError{Code: "E0308", Message: fmt.Sprintf(`mismatched types <&> "é" \ %d`, n),
				File: fmt.Sprintf("%s-%s/src/lib.rs", r.Crate, r.Version), Line: n + 1, LogLine: n % 4 * 17}
			if n%2 == 0 {
				r.FirstError.Code = ""
			}
		}
		switch n % 17 {
		case 3:
			r.LogKey = ""
		case 5:
			r.LogKey = "logs/elsewhere/x y.log"
		case 7:
			r.LogKey = "javascript:alert(1)"
		}
		r.DurationMS = int64(1000 + 37*i)
		r.ExitCode = i % 3
		r.Sender = []string{"", "builder-a", "builder-b"}[n%3]
		// Keep the log key the attempt's own when it was.
		if r.LogKey != "" && r.LogKey[:5] == "logs/" && n%17 != 5 {
			r.LogKey = streams.LogObjectKey(r.BuildKey, r.Attempt)
		}
	}
	extra := []streams.Result{
		result("gold", "Serde_Json", "1.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("gold", "Serde_Json", "1.0.0", "nightly", 1, streams.StatusBuildFail, "compiler-error(E0277)"),
		result("gold", "serde_json", "1.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("gold", "serde_json", "1.0.0", "nightly", 2, streams.StatusBuildFail, "ice"),
		// A later attempt replaces an earlier one.
		result("gold", "serde_json", "1.0.0", "nightly", 3, streams.StatusTestPass, ""),
		// A retry generation replaces everything before it.
		result("gold", "retried", "2.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("gold", "retried", "2.0.0", "nightly", 1, streams.StatusBuildFail, ""),
		result("gold", "retried", "2.0.0", "stable", streams.RetryAttemptBase(1)+1, streams.StatusTestPass, ""),
		result("gold", "retried", "2.0.0", "nightly", streams.RetryAttemptBase(1)+1, streams.StatusTestFail, ""),
		// Two builders disagree on one attempt.
		result("gold", "disputed", "0.0.1", "stable", 1, streams.StatusTestPass, ""),
		result("gold", "disputed", "0.0.1", "nightly", 1, streams.StatusTestPass, ""),
		result("gold", "disputed", "0.0.1", "nightly", 1, streams.StatusBuildFail, ""),
		// A toolchain the experiment does not have.
		result("gold", "stray", "1.0.0", "beta", 1, streams.StatusTestPass, ""),
		result("gold", "only-new", "1.0.0-", "nightly", 1, streams.StatusError, "oom"),
	}
	extra[9].Sender, extra[10].Sender, extra[11].Sender = "builder-a", "builder-a", "builder-b"
	for i := range extra {
		extra[i].FinishedAt = time.Date(2026, 1, 1, 1, 0, i, 0, time.UTC)
	}
	return append(rs, extra...)
}

// goldenReruns are confirmation re-runs of e's pending crates: the first
// round agrees with the first run, the second agrees for every other crate.
func goldenReruns(e *experiment) []streams.Result {
	var out []streams.Result
	n := 0
	for _, pfx := range e.prefixes {
		for _, cs := range e.pages[pfx].rows {
			if cs.v.Confirmation != results.ConfirmationPending {
				continue
			}
			n++
			for round := 1; round <= 2; round++ {
				for i, k := range cs.runs {
					if k == nil {
						continue
					}
					status, reason := k.Status, k.Reason
					if round == 2 && n%2 == 0 && i == 1 {
						status, reason = streams.StatusTestPass, ""
					}
					r := result("gold", cs.key.name, cs.key.version, k.Toolchain, streams.RerunAttemptBase(round)+1, status, reason)
					r.FinishedAt = time.Date(2026, 1, 2, 0, 0, n, 0, time.UTC)
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// checkGolden compares the batch r prepares of e at now with
// testdata/golden/batch-<name>.txt.
func checkGolden(t *testing.T, name string, r *Reporter, e *experiment, now time.Time) {
	t.Helper()
	b, whole, err := r.prepare(e, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if whole != nil {
		t.Fatalf("the whole files of %d crates apart from the changes", len(e.crates))
	}
	var got bytes.Buffer
	for _, o := range b.objects {
		fmt.Fprintf(&got, "=== %s (%s)\n", o.key, o.contentType)
		for _, p := range o.parts {
			got.Write(p)
		}
		got.WriteString("\n")
	}
	fmt.Fprintf(&got, "=== progress\n%s\n", b.progress)
	path := filepath.Join("testdata", "golden", "batch-"+name+".txt")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		g, w := got.Bytes(), want
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		lo := max(i-200, 0)
		t.Fatalf("batch %s differs from %s at byte %d:\ngot  %q\nwant %q", name, path, i,
			g[lo:min(i+200, len(g))], w[lo:min(i+200, len(w))])
	}
}
