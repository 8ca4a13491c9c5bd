package reporter

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// hostile is a well-formed reason (streams.ParseReason) that is markup.
const hostile = `compiler-error(<script>alert'1'</script>)`

func TestReportClassesLinksAndProgress(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp1", 5)
	for _, r := range []streams.Result{
		result("exp1", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("exp1", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "compiler-error(E0308)"),
		result("exp1", "beta", "0.2.0", "stable", 1, streams.StatusBuildFail, "unknown"),
		result("exp1", "beta", "0.2.0", "nightly", 1, streams.StatusTestPass, ""),
		result("exp1", "gamma", "2.0.0", "stable", 1, streams.StatusBuildFail, "unknown"),
		result("exp1", "gamma", "2.0.0", "nightly", 1, streams.StatusBuildFail, hostile),
		result("exp1", "delta", "1.0.0", "nightly", 1, streams.StatusTestPass, ""),
	} {
		e.publish(r)
	}
	e.startReporter()
	f := e.waitResults("exp1", 7)

	if f.Experiment != "exp1" || f.TotalJobs != 10 || f.Mode != streams.ModeBuildAndTest ||
		strings.Join(f.Toolchains, ",") != "stable,nightly" {
		t.Errorf("header: %+v", f)
	}
	var names []string
	for _, c := range f.Crates {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "alpha,beta,delta,gamma" {
		t.Errorf("crates in order %s, want alpha,beta,delta,gamma", got)
	}
	for name, want := range map[string]results.Class{
		"alpha": results.ClassRegressed, "beta": results.ClassFixed, "gamma": results.ClassSameBuildFail, "delta": results.ClassPending,
	} {
		if c := crateByName(t, f, name); c.Class != want {
			t.Errorf("%s: class %q, want %q", name, c.Class, want)
		}
	}
	alpha := crateByName(t, f, "alpha")
	if len(alpha.Results) != 2 || alpha.Results[0].Toolchain != "stable" || alpha.Results[1].Toolchain != "nightly" {
		t.Fatalf("alpha results: %+v", alpha.Results)
	}
	if got, want := alpha.Results[1].Log, "logs/nightly/alpha/1%2E0%2E0/1.log"; got != want {
		t.Errorf("alpha nightly log = %q, want %q", got, want)
	}
	if r := alpha.Results[1]; r.Status != streams.StatusBuildFail || r.Reason != "compiler-error(E0308)" ||
		r.Attempt != 1 || r.ExitCode != 101 || r.DurationMS != 1234 {
		t.Errorf("alpha nightly result: %+v", r)
	}

	index := string(e.store.read(t, IndexKey("exp1")))
	for _, want := range []string{"alpha", "beta", "stable", "nightly", "build-and-test",
		"7 / 10", `href="logs/nightly/alpha/1%252E0%252E0/1.log"`, `href="logs/nightly/alpha/1%252E0%252E0/1.html">page</a>`, `<a href="full.html">`,
		`<td>same-build-fail</td><td>1</td>`, `<td>pending</td><td>1</td>`} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if r, f := strings.Index(index, `id="regressed"`), strings.Index(index, `id="fixed"`); r < 0 || f < r {
		t.Errorf("sections out of order: regressed at %d, fixed at %d", r, f)
	}
	// Unchanged crates are on the pages of full.html, by the first two
	// letters of their names.
	full := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"full.html"))
	for _, want := range []string{`href="full-ga.html"`, `href="full-de.html"`, "7 / 10"} {
		if !strings.Contains(full, want) {
			t.Errorf("full.html lacks %q", want)
		}
	}
	gamma := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"full-ga.html"))
	delta := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"full-de.html"))
	if !strings.Contains(gamma, "&lt;script&gt;alert&#39;1&#39;&lt;/script&gt;") || !strings.Contains(gamma, "same-build-fail") ||
		!strings.Contains(delta, "pending") || !strings.Contains(delta, `href="logs/nightly/delta/1%252E0%252E0/1.log"`) {
		t.Errorf("pages lack gamma's escaped reason or delta:\n%s\n%s", gamma, delta)
	}
	for name, page := range map[string]string{"index.html": index, "full.html": full, "full-ga.html": gamma} {
		if strings.Contains(page, hostile) {
			t.Errorf("%s contains the unescaped hostile reason", name)
		}
		if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
			t.Errorf("%s refers to external assets", name)
		}
	}

	p := e.progress("exp1")
	if p.Experiment != "exp1" || p.Done != 7 {
		t.Errorf("progress: %+v", p)
	}
	wantStatuses := map[streams.Status]int{streams.StatusTestPass: 3, streams.StatusBuildFail: 4}
	if !maps.Equal(p.Statuses, wantStatuses) {
		t.Errorf("progress statuses %v, want %v", p.Statuses, wantStatuses)
	}
	wantClasses := map[string]int{"regressed": 1, "fixed": 1, "same-build-fail": 1}
	if !maps.Equal(p.Classes, wantClasses) {
		t.Errorf("progress classes %v, want %v", p.Classes, wantClasses)
	}
}

func TestRetriedAttemptReplacesWithoutDoubleCounting(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp2", 1)
	e.startReporter()
	base := result("exp2", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, "")
	e.publish(base)
	e.publish(base, "second-copy") // the same attempt stored twice
	first := result("exp2", "alpha", "1.0.0", "nightly", 1, streams.StatusError, "oom")
	e.publish(first)
	f := e.waitResults("exp2", 2)
	if c := crateByName(t, f, "alpha"); c.Class != results.ClassError {
		t.Fatalf("after attempt 1: class %q, want error", c.Class)
	}

	e.publish(result("exp2", "alpha", "1.0.0", "nightly", 2, streams.StatusBuildFail, "compiler-error(E0277)"))
	e.publish(first, "late-copy") // attempt 1 again, after attempt 2
	waitFor(t, "attempt 2 in results.json", func() bool {
		f = e.readResults("exp2")
		c := crateByName(t, f, "alpha")
		return len(c.Results) == 2 && c.Results[1].Attempt == 2
	})
	time.Sleep(5 * testDebounce) // let the late copy of attempt 1 through
	f = e.readResults("exp2")
	c := crateByName(t, f, "alpha")
	if f.DoneJobs != 2 || len(f.Crates) != 1 || c.Class != results.ClassRegressed || c.Results[1].Attempt != 2 ||
		c.Results[1].Log != "logs/nightly/alpha/1%2E0%2E0/2.log" {
		t.Errorf("after attempt 2: done %d, crates %d, %+v", f.DoneJobs, len(f.Crates), c)
	}
	p := e.progress("exp2")
	if p.Done != 2 || !maps.Equal(p.Statuses, map[streams.Status]int{"test-pass": 1, "build-fail": 1}) ||
		!maps.Equal(p.Classes, map[string]int{"regressed": 1}) {
		t.Errorf("progress after attempt 2: %+v", p)
	}
}

func TestRestartedReporterWritesTheSameReport(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp3", 3)
	for i, c := range []string{"alpha", "beta", "gamma"} {
		e.publish(result("exp3", c, "1.0."+itoa(i), "stable", 1, streams.StatusTestPass, ""))
		e.publish(result("exp3", c, "1.0."+itoa(i), "nightly", 1, streams.StatusTestFail, "unknown"))
	}
	e.publish(result("exp3", "beta", "1.0.1", "nightly", 2, streams.StatusTestPass, ""))
	stop := e.startReporter()
	before := e.waitResults("exp3", 6)
	stop()

	if err := os.Remove(e.store.Location(results.Key("exp3"))); err != nil {
		t.Fatal(err)
	}
	e.startReporter()
	after := e.waitResults("exp3", 6)
	before.Updated, after.Updated = time.Time{}, time.Time{}
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if string(a) != string(b) {
		t.Errorf("results.json differs after restart:\nbefore %s\nafter  %s", b, a)
	}
	if c := crateByName(t, after, "beta"); c.Class != results.ClassSameTestPass {
		t.Errorf("beta: class %q, want same-test-pass", c.Class)
	}
}

func TestGarbageGoesToDeadStream(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp4", 1)
	e.startReporter()

	garbage := []byte("\x00\xffnot json at all {")
	e.publishRaw("ejecta.results.exp4.x.y.z.1", garbage, "garbage")
	bad := result("exp4", "alpha", "1.0.0", "stable", 1, "exploded", "")
	badJSON, _ := json.Marshal(bad)
	e.publishRaw(streams.ResultSubject(bad.BuildKey, 1, streams.AnonymousSender), badJSON, "bad-status")
	// A reason no builder writes is refused with its result.
	badReason := result("exp4", "alpha", "1.0.0", "stable", 1, streams.StatusBuildFail, "<script>alert(1)</script>")
	badReasonJSON, _ := json.Marshal(badReason)
	e.publishRaw(streams.ResultSubject(badReason.BuildKey, 1, streams.AnonymousSender), badReasonJSON, "bad-reason")
	misfiled := result("exp4", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, "")
	misJSON, _ := json.Marshal(misfiled)
	e.publishRaw(streams.ResultSubject(streams.BuildKey{Experiment: "exp4", Crate: "other", Version: "1.0.0",
		Toolchain: "stable"}, 1, streams.AnonymousSender), misJSON, "misfiled")

	e.publish(result("exp4", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("exp4", "alpha", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	f := e.waitResults("exp4", 2)
	if c := crateByName(t, f, "alpha"); c.Class != results.ClassSameTestPass {
		t.Errorf("alpha: class %q, want same-test-pass", c.Class)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dead := map[string][]jetstream.RawStreamMsg{}
	waitFor(t, "four dead letters", func() bool {
		info, err := e.js.Stream(ctx, streams.DeadStream)
		if err != nil {
			t.Fatal(err)
		}
		return info.CachedInfo().State.Msgs == 4
	})
	s, err := e.js.Stream(ctx, streams.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		dead[m.Subject] = append(dead[m.Subject], *m)
	}
	inv := dead[streams.DeadSubject("", streams.AnonymousSender)]
	if len(inv) != 1 || string(inv[0].Data) != string(garbage) || inv[0].Header.Get(streams.HdrDeadReason) == "" ||
		inv[0].Header.Get(streams.HdrDeadSubject) != "ejecta.results.exp4.x.y.z.1" {
		t.Errorf("dead letter of the garbage: %+v", inv)
	}
	exp := dead[streams.DeadSubject("exp4", streams.AnonymousSender)]
	if len(exp) != 3 {
		t.Fatalf("dead letters of exp4: %d, want 3 (%v)", len(exp), dead)
	}
	if r := exp[0].Header.Get(streams.HdrDeadReason); !strings.Contains(r, "exploded") {
		t.Errorf("dead reason %q does not name the bad status", r)
	}
	if r := exp[1].Header.Get(streams.HdrDeadReason); !strings.Contains(r, "reason") || !strings.Contains(r, "script") {
		t.Errorf("dead reason %q does not name the bad reason", r)
	}
	if r := exp[2].Header.Get(streams.HdrDeadReason); !strings.Contains(r, "subject") {
		t.Errorf("dead reason %q does not mention the subject mismatch", r)
	}
}

func TestResultsWaitForTheExperimentRecord(t *testing.T) {
	e := newEnv(t)
	e.publish(result("exp5", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("exp5", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "ice"))
	e.startReporter()
	time.Sleep(10 * testDebounce)
	if f := e.readResults("exp5"); f != nil {
		t.Fatalf("results.json written without an experiment record: %+v", f)
	}
	e.putExperiment("exp5", 1)
	f := e.waitResults("exp5", 2)
	if c := crateByName(t, f, "alpha"); c.Class != results.ClassRegressed {
		t.Errorf("alpha: class %q, want regressed", c.Class)
	}
	if p := e.progress("exp5"); p.Done != 2 || p.Classes["regressed"] != 1 {
		t.Errorf("progress: %+v", p)
	}
}

func TestBurstIsOneWrite(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp6", 40)
	// A longer debounce than the other tests so the burst surely fits in it.
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	r, err := New(Config{Debounce: 500 * time.Millisecond}, e.nc, e.store, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for i := range 40 {
		e.publish(result("exp6", "c"+itoa(i), "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	}
	e.waitResults("exp6", 40)
	time.Sleep(time.Second)
	if n := e.store.Puts(results.Key("exp6")); n > 2 {
		t.Errorf("a burst of 40 results caused %d writes of results.json, want 1 or 2", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, ""},
		{Config{Debounce: 200 * time.Millisecond}, ""},
		{Config{Debounce: -time.Second}, "debounce"},
		{Config{Debounce: 2 * time.Hour}, "debounce"},
	} {
		err := tt.cfg.Validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", tt.cfg, err, tt.wantErr)
		}
	}
	if _, err := New(Config{}, nil, newStore(t), zerolog.Nop()); err == nil {
		t.Error("New with a nil connection succeeded")
	}
}

func TestKeys(t *testing.T) {
	if got := results.Key("exp-1"); got != "exp-1/results.json" {
		t.Errorf("ResultsKey = %q", got)
	}
	if got := IndexKey("exp-1"); got != "exp-1/index.html" {
		t.Errorf("IndexKey = %q", got)
	}
}
