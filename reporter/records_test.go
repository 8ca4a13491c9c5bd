package reporter

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// A running reporter learns of `experiment abort` from the experiments
// bucket: the report says aborted (results.json, config.json, index.html,
// markdown.md), and a regression whose result comes in after the abort is
// not re-run, while another experiment's is.
func TestAbortedExperimentReportSaysSoAndQueuesNoReruns(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("ab", 2)
	e.putExperiment("live", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.publish(result("ab", "ok", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("ab", "ok", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	e.startReporter()
	if f := e.waitResults("ab", 2); f.State != "" {
		t.Fatalf("state %q before the abort", f.State)
	}
	if _, err := producer.New(e.js, testLogger(t)).Abort(ctx, "ab"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "results.json saying aborted", func() bool { return e.readResults("ab").State == streams.ExperimentAborted })
	pfx := streams.ExperimentPrefix("ab")
	waitFor(t, "index.html, markdown.md and config.json saying aborted", func() bool {
		var cfg ConfigFile
		_ = json.Unmarshal(e.store.read(t, pfx+configFileName), &cfg)
		return strings.Contains(string(e.store.read(t, IndexKey("ab"))), `<tr class="aborted"><th>State</th><td>aborted`) &&
			strings.Contains(string(e.store.read(t, pfx+markdownFileName)), "\n**Aborted**: ") &&
			cfg.Experiment.State == streams.ExperimentAborted
	})

	// A build that finished as the abort came publishes its result late.
	e.publish(result("ab", "reg", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("ab", "reg", "1.0.0", "nightly", 1, streams.StatusBuildFail, ""))
	e.publish(result("live", "reg", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("live", "reg", "1.0.0", "nightly", 1, streams.StatusBuildFail, ""))
	f := e.waitResults("ab", 4)
	if reg := crateByName(t, f, "reg"); reg.Class != results.ClassRegressed || f.State != streams.ExperimentAborted {
		t.Errorf("after the abort: reg %+v, state %q; want it listed as regressed in an aborted report", reg, f.State)
	}
	e.waitResults("live", 2)
	waitFor(t, "live's re-runs", func() bool { return len(e.queuedJobs()) == 2 })
	time.Sleep(10 * testDebounce)
	for id, job := range e.queuedJobs() {
		if job.Experiment != "live" {
			t.Errorf("re-run %s of the aborted experiment queued", id)
		}
	}
}

// `experiment delete` drops the reporter's state of the experiment: a new
// experiment of the same name starts from nothing.
func TestDeletedExperimentIsForgotten(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("dx", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []string{"a", "b"} {
		e.publish(result("dx", c, "1.0.0", "stable", 1, streams.StatusTestPass, ""))
		e.publish(result("dx", c, "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	}
	e.startReporter()
	e.waitResults("dx", 4)
	out, err := producer.New(e.js, testLogger(t)).Delete(ctx, "dx", false)
	if err != nil || out.Messages[streams.ResultsStream] != 4 {
		t.Fatalf("delete: %+v, %v", out, err)
	}
	time.Sleep(5 * testDebounce)
	if p, ok := e.tryProgress("dx"); ok {
		t.Errorf("progress of the deleted experiment written again: %+v", p)
	}

	e.putExperiment("dx", 1)
	e.publish(result("dx", "c", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("dx", "c", "1.0.0", "nightly", 1, streams.StatusBuildFail, ""))
	f := e.waitResults("dx", 2)
	if f.TotalJobs != 2 || len(f.Crates) != 1 || f.Crates[0].Name != "c" || f.Classes[results.ClassRegressed] != 1 || len(f.Classes) != 1 {
		t.Errorf("the new dx: %+v, want only crate c", f)
	}
}
