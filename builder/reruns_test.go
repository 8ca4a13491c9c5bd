package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// publishRerun queues job as confirmation re-run round, on its re-run
// subject, as the reporter does (producer.Rerun).
func publishRerun(t *testing.T, js jetstream.JetStream, job streams.Job, round int) {
	t.Helper()
	ensureExperiment(t, js, job)
	job.AttemptBase = streams.RerunAttemptBase(round)
	data, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), streams.RerunSubject(job.BuildKey), data); err != nil {
		t.Fatal(err)
	}
}

// waitQueued waits until consumer name of the jobs stream counts n
// messages pending. The server tells a consumer of a new message
// asynchronously; until it has, a no-wait fetch there finds nothing and a
// builder takes from the next queue, so a test of the order in which
// queues are taken starts its builder only once every queue knows its jobs.
func waitQueued(t *testing.T, js jetstream.JetStream, name string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cons, err := js.Consumer(context.Background(), streams.JobsStream, name)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		if cons.CachedInfo().NumPending >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s: %d pending after 10s, want %d", name, cons.CachedInfo().NumPending, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With first runs queued, a re-run published after them is the next job
// a builder takes.
func TestBuilderTakesRerunsFirst(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	first := []streams.Job{fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly), fakeJob("c", streams.ModeCheckOnly)}
	res, _ := runFake(t, r, Config{}, 4, func(js jetstream.JetStream) {
		for _, j := range first {
			publishJob(t, js, j)
		}
		publishRerun(t, js, first[0], 1)
		waitQueued(t, js, streams.RerunsConsumer(first[0].Experiment, first[0].Toolchain), 1)
	})
	want := []string{"a@1001", "a@1", "b@1", "c@1"}
	for i, r := range res {
		if got := fmt.Sprintf("%s@%d", r.Crate, r.Attempt); got != want[i] {
			t.Errorf("result %d: %s, want %s (all: %v)", i, got, want[i], results(res))
		}
	}
}

// Only re-runs may wait in the queue builders take first: a job there
// numbered as a first run is buried, never built.
func TestBuilderBuriesFirstRunsOnTheRerunSubject(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	good := fakeJob("good", streams.ModeCheckOnly)
	res, js := runFake(t, r, Config{}, 1, func(js jetstream.JetStream) {
		ensureExperiment(t, js, good)
		data, err := json.Marshal(good)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(context.Background(), streams.RerunSubject(good.BuildKey), data); err != nil {
			t.Fatal(err)
		}
		publishJob(t, js, good)
	})
	if got := fmt.Sprintf("%s@%d", res[0].Crate, res[0].Attempt); got != "good@1" {
		t.Errorf("result %s, want good@1, the first run's", got)
	}
	if reason := deadLetters(t, js, 1)[0].Headers().Get(streams.HdrDeadReason); !strings.Contains(reason, "a re-run's") {
		t.Errorf("dead letter reason %q, want the first run refused on a re-run's subject", reason)
	}
}

// A builder stopped while it builds a re-run hands it back; the next
// builder takes it first again, as its next attempt, and every job ends
// with exactly one result.
func TestBuilderRerunSurvivesRestart(t *testing.T) {
	nc, js := startJetStream(t, streams.DefaultConfig())
	first := []streams.Job{fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly)}
	for _, j := range first {
		publishJob(t, js, j)
	}
	publishRerun(t, js, first[1], 1)
	resultsCons, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}

	// The first builder's first build hangs until the builder stops.
	started := make(chan struct{})
	var once atomic.Bool
	hang := &fakeRunner{step: func(ctx context.Context, sub string, _ sandbox.Task) (sandbox.Exit, error) {
		if sub == "check" && once.CompareAndSwap(false, true) {
			close(started)
			<-ctx.Done()
			return sandbox.Exit{Code: 137}, fmt.Errorf("sandbox: killed: %w", ctx.Err())
		}
		return sandbox.Exit{}, nil
	}}
	stop := startFakeOn(t, nc, hang)
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no build started")
	}
	stop()

	ok := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	defer startFakeOn(t, nc, ok)()
	var res []streams.Result
	for range 3 {
		var r streams.Result
		nextJSON(t, resultsCons, 30*time.Second, &r)
		res = append(res, r)
	}
	// The handed-back attempt 1001 has no result; the re-run's next
	// attempt comes first.
	want := []string{"b@1002", "a@1", "b@1"}
	for i, r := range res {
		if got := fmt.Sprintf("%s@%d", r.Crate, r.Attempt); got != want[i] {
			t.Errorf("result %d: %s, want %s (all: %v)", i, got, want[i], results(res))
		}
	}
	// Nothing more: no job left queued, no result twice.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m, err := resultsCons.Next(jetstream.FetchContext(ctx)); err == nil {
		t.Errorf("a result more: %s", m.Subject())
	}
	s, err := js.Stream(context.Background(), streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(context.Background()); err != nil || info.State.Msgs != 0 {
		t.Errorf("jobs stream after every build: %+v, %v; want empty", info.State, err)
	}
}

// startFakeOn runs a one-slot builder with r on nc until the returned
// stop is called (or the test ends).
func startFakeOn(t *testing.T, nc *nats.Conn, r Runner) (stop func()) {
	t.Helper()
	b, err := New(Config{ID: "fake", WorkDir: t.TempDir(), Slots: 1}, nc, r, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

func results(res []streams.Result) []string {
	var out []string
	for _, r := range res {
		out = append(out, fmt.Sprintf("%s@%d %s", r.Crate, r.Attempt, r.Status))
	}
	return out
}
