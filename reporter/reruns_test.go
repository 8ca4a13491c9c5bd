package reporter

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// queuedJobs returns every job on the jobs stream with its Nats-Msg-Id.
func (e *env) queuedJobs() map[string]streams.Job {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]streams.Job{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // consumed
		}
		var job streams.Job
		if err := streams.Decode(m.Data, &job); err != nil {
			e.t.Fatalf("job %d: %v", seq, err)
		}
		out[m.Header.Get(nats.MsgIdHdr)] = job
	}
	return out
}

func TestRegressionsAreConfirmedByReruns(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("rr", 4)
	for _, p := range []struct {
		name string
		a, b Outcome
	}{
		{"reg", oPass, oBuild},
		{"flk", oPass, oBuild},
		{"spur", oPass, bf("oom")},
		{"same", oPass, oPass},
	} {
		e.publish(result("rr", p.name, "1.0.0", "stable", 1, p.a.Status, p.a.Reason))
		e.publish(result("rr", p.name, "1.0.0", "nightly", 1, p.b.Status, p.b.Reason))
	}
	stop := e.startReporter()
	f := e.waitResults("rr", 8)
	for name, want := range map[string]string{"reg": results.ConfirmationPending, "flk": results.ConfirmationPending,
		"spur": results.ConfirmationPending, "same": ""} {
		if c := crateByName(t, f, name); c.Confirmation != want {
			t.Errorf("%s: confirmation %q, want %q", name, c.Confirmation, want)
		}
	}

	// One re-run job per toolchain of each regression, numbered from the
	// first re-run's attempt base, each with a Nats-Msg-Id of its own.
	var jobs map[string]streams.Job
	waitFor(t, "six re-run jobs", func() bool { jobs = e.queuedJobs(); return len(jobs) == 6 })
	var ids []string
	for id, job := range jobs {
		ids = append(ids, id)
		if job.AttemptBase != streams.RerunAttemptBase(1) || job.Mode != streams.ModeBuildAndTest || job.CrateSource != "/src" {
			t.Errorf("job %s: %+v", id, job)
		}
		if want := producer.RerunMsgID(job.BuildKey, 1); id != want {
			t.Errorf("job %s has Nats-Msg-Id %q, want %q", job.BuildKey, id, want)
		}
	}
	slices.Sort(ids)
	if strings.Contains(strings.Join(ids, " "), ".same.") {
		t.Errorf("an unchanged crate was re-run: %q", ids)
	}

	// A restarted reporter finds the jobs queued and asks for none again.
	stop()
	stop = e.startReporter()
	e.waitResults("rr", 8)
	time.Sleep(10 * testDebounce)
	if n := len(e.queuedJobs()); n != 6 {
		t.Errorf("%d jobs after a restart, want still 6", n)
	}

	// The re-runs run as builders run them: attempt 1001 of each build.
	rerun := func(name, tc string, o Outcome) {
		e.publish(result("rr", name, "1.0.0", tc, streams.RerunAttemptBase(1)+1, o.Status, o.Reason))
	}
	rerun("reg", "stable", oPass)
	rerun("reg", "nightly", oBuild)
	rerun("flk", "stable", oPass)
	rerun("flk", "nightly", oPass)
	rerun("spur", "stable", oPass)
	rerun("spur", "nightly", oPass)
	waitFor(t, "every re-run in results.json", func() bool {
		f = e.readResults("rr")
		return crateByName(t, f, "reg").Confirmation == results.ConfirmationConfirmed &&
			crateByName(t, f, "flk").Class == results.ClassFlaky && crateByName(t, f, "spur").Confirmation == results.ConfirmationCleared
	})
	f = e.waitResults("rr", 8) // re-runs are not builds of their own: still 8
	if c := crateByName(t, f, "spur"); c.Class != results.ClassSameTestPass {
		t.Errorf("spur: class %q after passing its re-run, want same-test-pass", c.Class)
	}
	reg := crateByName(t, f, "reg")
	if reg.Class != results.ClassRegressed || len(reg.Reruns) != 1 || len(reg.Reruns[0]) != 2 ||
		reg.Reruns[0][1].Log != "logs/nightly/reg/1%2E0%2E0/1001.log" || reg.Results[1].Attempt != 1 {
		t.Errorf("reg: %+v", reg)
	}
	wantClasses := map[results.Class]int{results.ClassRegressed: 1, results.ClassFlaky: 1, results.ClassSameTestPass: 2}
	if !maps.Equal(f.Classes, wantClasses) {
		t.Errorf("classes %v, want %v", f.Classes, wantClasses)
	}
	// results.json is written first, then the other files of the same
	// batch, the progress entry last: wait for the batch to land.
	var p *streams.Progress
	waitFor(t, "the progress entry of the last batch", func() bool {
		p = e.progress("rr")
		return p.Confirming == 0 && p.Done == 8
	})
	if p.Statuses[streams.StatusTestPass] != 5 || p.Statuses[streams.StatusBuildFail] != 3 {
		t.Errorf("progress counts re-runs as builds: %+v", p)
	}
	// A flaky crate shows the logs of both runs.
	index := string(e.store.read(t, IndexKey("rr")))
	for _, want := range []string{`id="flaky"`, `href="logs/nightly/flk/1%252E0%252E0/1.log"`,
		`href="logs/nightly/flk/1%252E0%252E0/1001.log"`, "re-run 1: test-pass"} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	stop()
}

// TestRerunExists checks how a reporter tells whether a re-run was already
// asked for, beyond the duplicate window: the job is queued, or it ran.
func TestRerunExists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r, err := New(Config{}, e.nc, e.store, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := e.js.Stream(ctx, streams.JobsStream)
	results, _ := e.js.Stream(ctx, streams.ResultsStream)
	st := &run{jobs: jobs, results: results}
	rec := &streams.Experiment{V: 1, Name: "ex", Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/src"}
	k := streams.BuildKey{Experiment: "ex", Crate: "c", Version: "1.0.0", Toolchain: "nightly"}
	exists := func(round int) bool {
		t.Helper()
		ok, err := r.rerunExists(ctx, st, rec, k, streams.RerunAttemptBase(round))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	e.publish(result("ex", "c", "1.0.0", "nightly", 1, streams.StatusBuildFail, ""))
	if exists(1) {
		t.Error("round 1 exists before it was queued")
	}
	if _, err := producer.Rerun(ctx, e.js, streams.JobKey{}, rec, k, 1); err != nil {
		t.Fatal(err)
	}
	if !exists(1) || exists(2) {
		t.Errorf("queued round 1: exists(1) %v, exists(2) %v; want true, false", exists(1), exists(2))
	}
	// A builder takes the job, publishes its result, acks it.
	if err := jobs.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(1) {
		t.Error("round 1 exists with neither job nor result")
	}
	// Earlier versions queued re-runs on the first run's subject.
	old, _ := json.Marshal(streams.Job{V: streams.SchemaVersion, BuildKey: k, Mode: rec.Mode, CrateSource: rec.CrateSource,
		AttemptBase: streams.RerunAttemptBase(1)})
	if _, err := e.js.Publish(ctx, streams.JobSubject(k), old); err != nil {
		t.Fatal(err)
	}
	if !exists(1) {
		t.Error("round 1 queued on the first run's subject (an earlier version) does not exist")
	}
	if err := jobs.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	e.publish(result("ex", "c", "1.0.0", "nightly", streams.RerunAttemptBase(1)+2, streams.StatusBuildFail, ""))
	if !exists(1) || exists(2) {
		t.Errorf("round 1 ran: exists(1) %v, exists(2) %v; want true, false", exists(1), exists(2))
	}
	if dup, err := producer.Rerun(ctx, e.js, streams.JobKey{}, rec, k, 1); err != nil || !dup {
		t.Errorf("queueing round 1 again: duplicate %v, %v; want a duplicate", dup, err)
	}
	if _, err := producer.Rerun(ctx, e.js, streams.JobKey{}, rec, k, 0); err == nil || !strings.Contains(err.Error(), "round") {
		t.Errorf("round 0: %v, want an error naming the round", err)
	}

	// Where jobs carry tickets, a forged result does not count as a
	// re-run that ran: it would keep the regression from its re-run.
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	if r, err = New(Config{JobKey: key}, e.nc, e.store, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	rec.Tickets = true
	e.publish(result("ex", "c", "1.0.0", "nightly", streams.RerunAttemptBase(2)+1, streams.StatusTestPass, ""))
	if exists(2) {
		t.Error("an unsigned result stands for round 2 of an experiment with tickets")
	}
	genuine := result("ex", "c", "1.0.0", "nightly", streams.RerunAttemptBase(2)+2, streams.StatusTestPass, "")
	genuine.Sign(key.Ticket(k, streams.RerunAttemptBase(2)))
	e.publish(genuine)
	if !exists(2) {
		t.Error("round 2's signed result not seen")
	}
}
