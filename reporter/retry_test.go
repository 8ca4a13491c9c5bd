package reporter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// retryJobs returns the queued jobs of generation gen's first run.
func (e *env) retryJobs(gen int) []streams.Job {
	e.t.Helper()
	var out []streams.Job
	for _, job := range e.queuedJobs() {
		if job.AttemptBase == streams.RetryAttemptBase(gen) {
			out = append(out, job)
		}
	}
	return out
}

// `experiment retry` of a confirmed regression: the producer queues the
// crate again as generation 1, the report forgets generation 0's results of
// it as soon as the first of the retry's arrives, shows the retry's instead,
// and counts each build once. A late result of the old generation changes
// nothing, and a restarted reporter, replaying everything, agrees.
func TestRetryReplacesTheReportEntry(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("rt", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.publish(result("rt", "reg", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("rt", "reg", "1.0.0", "nightly", 1, streams.StatusBuildFail, "compiler-error(E0308)"))
	e.publish(result("rt", "ok", "2.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("rt", "ok", "2.0.0", "nightly", 1, streams.StatusTestPass, ""))
	stop := e.startReporter()
	waitFor(t, "reg's confirmation re-runs queued", func() bool { return len(e.queuedJobs()) == 2 })
	rerun := streams.RerunAttemptBase(1) + 1
	e.publish(result("rt", "reg", "1.0.0", "stable", rerun, streams.StatusTestPass, ""))
	e.publish(result("rt", "reg", "1.0.0", "nightly", rerun, streams.StatusBuildFail, "compiler-error(E0308)"))
	waitFor(t, "reg confirmed", func() bool {
		f := e.readResults("rt")
		return f != nil && crateByName(t, f, "reg").Confirmation == results.ConfirmationConfirmed
	})

	p := producer.New(e.js, testLogger(t))
	out, err := p.Retry(ctx, "rt", []producer.Crate{{Name: "reg"}})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if out.Jobs != 2 || strings.Join(out.Crates, ",") != "reg@1.0.0" {
		t.Errorf("retry queued %+v, want reg@1.0.0 on both toolchains", out)
	}
	if jobs := e.retryJobs(1); len(jobs) != 2 {
		t.Fatalf("%d jobs of retry generation 1 queued, want 2: %+v", len(jobs), e.queuedJobs())
	}
	// Asked again before it ran: the same generation, queued once.
	if again, err := p.Retry(ctx, "rt", []producer.Crate{{Name: "reg", Version: "1.0.0"}}); err != nil || again.Jobs != 0 {
		t.Errorf("retry repeated: %+v, %v; want nothing queued again", again, err)
	}

	// The retry's builds run: attempts 10001. This time nightly passes.
	first := streams.RetryAttemptBase(1) + 1
	e.publish(result("rt", "reg", "1.0.0", "stable", first, streams.StatusTestPass, ""))
	e.waitResults("rt", 3) // generation 0's two results of reg are gone
	e.publish(result("rt", "reg", "1.0.0", "nightly", first, streams.StatusTestPass, ""))
	check := func(when string) {
		t.Helper()
		f := e.waitResults("rt", 4)
		reg := crateByName(t, f, "reg")
		if f.TotalJobs != 4 || reg.Class != results.ClassSameTestPass || reg.Confirmation != "" || len(reg.Reruns) != 0 ||
			len(reg.Results) != 2 || reg.Results[0].Attempt != first || reg.Results[1].Attempt != first ||
			reg.Results[1].Log != "logs/nightly/reg/1%2E0%2E0/10001.log" {
			t.Errorf("%s: reg %+v, want the retry's two passes and nothing of the first run", when, reg)
		}
		if f.Classes[results.ClassRegressed] != 0 || f.Classes[results.ClassSameTestPass] != 2 {
			t.Errorf("%s: classes %v, want 2 same-test-pass and no regression", when, f.Classes)
		}
		pr := e.progress("rt")
		if pr.Done != 4 || pr.Total != 4 || pr.Statuses[streams.StatusTestPass] != 4 || pr.Statuses[streams.StatusBuildFail] != 0 {
			t.Errorf("%s: progress %+v, want 4 of 4 done, all test-pass", when, pr)
		}
		if list := string(e.store.read(t, RetryListKey("rt"))); strings.Contains(list, "reg@") {
			t.Errorf("%s: retry-regressed-list.txt still lists reg:\n%s", when, list)
		}
	}
	check("after the retry")

	// A generation-0 attempt that arrives late (a redelivery) is ignored.
	e.publish(result("rt", "reg", "1.0.0", "nightly", 3, streams.StatusBuildFail, "compiler-error(E0308)"))
	time.Sleep(5 * testDebounce)
	check("after a late first-run result")

	// A restarted reporter writing to an empty store: only the replay
	// can produce the report it checks.
	stop()
	e.store = newStore(t)
	e.startReporter()
	check("after a restart")
}

// A retry that regresses again is confirmed by re-runs of its own
// generation (attempts 11001), not by the first run's.
func TestRetryRegressionIsConfirmedAgain(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("rg", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.publish(result("rg", "reg", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("rg", "reg", "1.0.0", "nightly", 1, streams.StatusBuildFail, ""))
	e.startReporter()
	e.waitResults("rg", 2)
	if _, err := producer.New(e.js, testLogger(t)).Retry(ctx, "rg", []producer.Crate{{Name: "reg"}}); err != nil {
		t.Fatal(err)
	}
	first := streams.RetryAttemptBase(1) + 1
	e.publish(result("rg", "reg", "1.0.0", "stable", first, streams.StatusTestPass, ""))
	e.publish(result("rg", "reg", "1.0.0", "nightly", first, streams.StatusBuildFail, ""))
	waitFor(t, "the retry's confirmation re-runs queued", func() bool {
		n := 0
		for _, job := range e.queuedJobs() {
			if job.AttemptBase == streams.AttemptBase(1, 1) {
				n++
			}
		}
		return n == 2
	})
	waitFor(t, "the retry's results in results.json", func() bool {
		reg := crateByName(t, e.readResults("rg"), "reg")
		return len(reg.Results) == 2 && reg.Results[0].Attempt == first && reg.Results[1].Attempt == first
	})
	f := e.waitResults("rg", 2)
	if reg := crateByName(t, f, "reg"); reg.Class != results.ClassRegressed || reg.Confirmation != results.ConfirmationPending {
		t.Errorf("reg %+v: want the retry's regression, pending its confirmation", reg)
	}
	again := streams.AttemptBase(1, 1) + 1
	e.publish(result("rg", "reg", "1.0.0", "stable", again, streams.StatusTestPass, ""))
	e.publish(result("rg", "reg", "1.0.0", "nightly", again, streams.StatusBuildFail, ""))
	waitFor(t, "the retry's regression confirmed", func() bool {
		reg := crateByName(t, e.readResults("rg"), "reg")
		return reg.Confirmation == results.ConfirmationConfirmed && len(reg.Reruns) == 1 && reg.Reruns[0][1].Attempt == again
	})
	if f := e.waitResults("rg", 2); f.DoneJobs != f.TotalJobs {
		t.Errorf("done %d of %d", f.DoneJobs, f.TotalJobs)
	}
}

// Retry names what is wrong: an aborted experiment, an unknown one, a crate
// the experiment does not have.
func TestRetryRefusals(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("rx", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.publish(result("rx", "reg", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	p := producer.New(e.js, testLogger(t))
	for _, tc := range []struct {
		name, exp string
		crates    []producer.Crate
		want      string
		is        error
	}{
		{"unknown experiment", "nope", []producer.Crate{{Name: "reg"}}, `experiment "nope": unknown experiment`, producer.ErrUnknownExperiment},
		{"crate not in it", "rx", []producer.Crate{{Name: "other"}, {Name: "reg", Version: "9.9.9"}}, "crates: not in experiment rx (no job or result): other, reg@9.9.9", nil},
		{"no crates", "rx", nil, "crates: none given", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Retry(ctx, tc.exp, tc.crates)
			var ie *producer.InvalidError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ie) {
				t.Fatalf("error %v, want an input error containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
	if _, err := p.Abort(ctx, "rx"); err != nil {
		t.Fatal(err)
	}
	_, err := p.Retry(ctx, "rx", []producer.Crate{{Name: "reg"}})
	if !errors.Is(err, producer.ErrAborted) || !strings.Contains(err.Error(), "experiment rx: experiment aborted; create a new experiment instead") {
		t.Errorf("retry of an aborted experiment: %v", err)
	}
	if n := len(e.queuedJobs()); n != 0 {
		t.Errorf("%d jobs queued by refused retries", n)
	}
}
