package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// TestRegressionIsConfirmedByARerun runs a crate that builds on stable and
// not on nightly: the reporter queues a re-run on both toolchains, a real
// builder runs it as attempt 1001 with a log of its own, and the regression
// shows as confirmed without its re-run being counted as builds.
func TestRegressionIsConfirmedByARerun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var st store.Store
	fm := startFarm(t, ctx, "e2e-rerun", fileStore(&st), reporter.Config{Debounce: 200 * time.Millisecond})
	js, registry, log := fm.js, fm.registry, fm.log

	if _, err := producer.New(js, log).Create(ctx, producer.Request{
		Name: "rerun", Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "ejecta-demo-regress", CrateSource: registry,
	}); err != nil {
		t.Fatal(err)
	}

	var f results.File
	deadline := time.Now().Add(8 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("regression not confirmed in time: %+v", f)
		}
		time.Sleep(500 * time.Millisecond)
		data, err := readObject(ctx, t, st, results.Key("rerun"))
		if err != nil {
			continue
		}
		f = results.File{}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Fatalf("results.json: %v\n%s", err, data)
		}
		if len(f.Crates) == 1 && f.Crates[0].Confirmation == results.ConfirmationConfirmed {
			break
		}
	}
	// `experiment status --watch` stops on Finished: only after the re-runs.
	deadlineStatus := time.Now().Add(30 * time.Second)
	for {
		s, err := status.Get(ctx, js, "rerun")
		if err == nil && s.Finished() {
			if s.Done != 2 || s.Total != 2 || s.Confirming != 0 {
				t.Errorf("finished status %+v: want 2 of 2 done, nothing confirming", s)
			}
			break
		}
		if time.Now().After(deadlineStatus) {
			t.Fatalf("status not finished after the re-run: %+v, %v", s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := f.Crates[0]
	if c.Class != results.ClassRegressed || f.DoneJobs != 2 || len(c.Reruns) != 1 || len(c.Reruns[0]) != 2 {
		t.Fatalf("after the re-run: done %d, crate %+v", f.DoneJobs, c)
	}
	for i, run := range c.Reruns[0] {
		if run.Attempt != streams.RerunAttemptBase(1)+1 || run.Status != c.Results[i].Status {
			t.Errorf("re-run on %s: attempt %d status %s, want attempt %d status %s",
				run.Toolchain, run.Attempt, run.Status, streams.RerunAttemptBase(1)+1, c.Results[i].Status)
		}
		// The re-run's log is its own, stored beside the first run's.
		waitLog := time.Now().Add(time.Minute)
		for {
			if _, err := readObject(ctx, t, st, streams.ExperimentPrefix("rerun")+run.Log); err == nil {
				break
			} else if time.Now().After(waitLog) {
				t.Fatalf("log %s of the re-run on %s: %v", run.Log, run.Toolchain, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
