package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// gatedRunner passes every step, but "check" waits for a token on gate (or
// for its context to end, as a killed task does). started receives the
// toolchain of each check as it starts.
type gatedRunner struct {
	gate    chan struct{}
	started chan string
}

func (g *gatedRunner) Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error) {
	if t.Args[2] != "check" {
		return sandbox.Exit{}, nil
	}
	g.started <- t.Args[1]
	select {
	case <-g.gate:
		return sandbox.Exit{}, nil
	case <-ctx.Done():
		return sandbox.Exit{Code: 137}, fmt.Errorf("sandbox: killed: %w", ctx.Err())
	}
}

func (g *gatedRunner) Cleanup(context.Context, func(string) bool) error { return nil }

// lifecycleFarm is a server, a producer and one builder over a gatedRunner.
type lifecycleFarm struct {
	js      jetstream.JetStream
	p       *producer.Producer
	r       *gatedRunner
	results jetstream.Consumer
}

func startLifecycleFarm(t *testing.T, cfg Config) *lifecycleFarm {
	t.Helper()
	testenv.CrateRegistry(t)
	nc, js := startJetStream(t, streams.DefaultConfig())
	f := &lifecycleFarm{js: js, p: producer.New(js, testLogger(t)),
		r: &gatedRunner{gate: make(chan struct{}), started: make(chan string, 16)}}
	var err error
	if f.results, err = js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatal(err)
	}
	if cfg.ID == "" {
		cfg.ID = "life"
	}
	cfg.WorkDir = t.TempDir()
	if cfg.Slots == 0 {
		cfg.Slots = 1
	}
	b, err := New(cfg, nc, f.r, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		close(f.r.gate)
		<-done
	})
	return f
}

func (f *lifecycleFarm) create(t *testing.T, name string, priority int, crates string) {
	t.Helper()
	_, err := f.p.Create(context.Background(), producer.Request{Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: "check-only", Crates: crates, CrateSource: testenv.DebianRegistry, Priority: priority,
		// Some farms lack a toolchain on purpose (TestToolchainFiltering).
		NoToolchainCheck: true})
	if err != nil {
		t.Fatal(err)
	}
}

// started waits for the next check to start.
func (f *lifecycleFarm) started(t *testing.T) {
	t.Helper()
	select {
	case <-f.r.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no build started within 10s")
	}
}

func (f *lifecycleFarm) result(t *testing.T) streams.Result {
	t.Helper()
	var r streams.Result
	nextJSON(t, f.results, 10*time.Second, &r)
	return r
}

// A later experiment of higher priority has its jobs built before the
// queued jobs of a lower one.
func TestPriorityOrdering(t *testing.T) {
	f := startLifecycleFarm(t, Config{})
	f.create(t, "low", 0, "cfg-if,itoa")
	f.started(t) // low's first job runs; three more wait
	f.create(t, "high", 10, "either")
	var order []string
	for range 6 {
		f.r.gate <- struct{}{}
		order = append(order, f.result(t).Experiment)
		if len(order) < 6 {
			f.started(t)
		}
	}
	want := []string{"low", "high", "high", "low", "low", "low"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("builds by experiment %v, want %v", order, want)
	}

	// A priority raised later counts from the next fetch on.
	f.create(t, "first", 5, "cfg-if")
	f.started(t)
	f.create(t, "second", 1, "itoa")
	if _, err := f.p.SetPriority(context.Background(), "second", 9); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the builder's watch sees the change
	order = order[:0]
	for range 4 {
		f.r.gate <- struct{}{}
		order = append(order, f.result(t).Experiment)
		if len(order) < 4 {
			f.started(t)
		}
	}
	if want := "[first second second first]"; fmt.Sprint(order) != want {
		t.Errorf("after raising second's priority, builds by experiment %v, want %s", order, want)
	}
}

// Abort removes the queued jobs and stops the running build at once,
// without a result; status says aborted.
func TestAbortStopsBuilds(t *testing.T) {
	f := startLifecycleFarm(t, Config{})
	f.create(t, "ab", 0, "cfg-if,itoa")
	f.started(t)
	start := time.Now()
	out, err := f.p.Abort(context.Background(), "ab")
	if err != nil {
		t.Fatal(err)
	}
	// The running build's job is purged too, unless the builder, seeing the
	// record turn aborted, already terminated it: 3 or 4.
	if out.Purged < 3 || out.Purged > 4 || out.Experiment.State != streams.ExperimentAborted {
		t.Errorf("abort %+v: want the 3 queued jobs purged (and the running one, unless its builder was quicker) and state aborted", out)
	}
	// The running build's log ends, with the reason, and no result follows.
	var end *streams.LogEnd
	for end == nil && time.Since(start) < 5*time.Second {
		for _, tc := range []string{"stable", "nightly"} {
			k := streams.BuildKey{Experiment: "ab", Crate: "cfg-if", Version: "1.0.0", Toolchain: tc}
			if _, e := buildlogtest.Chunks(t, f.js, streams.LogSubject(k, 1), 100*time.Millisecond); e != nil {
				end = e
			}
		}
	}
	if end == nil || end.Reason != streams.ReasonExperimentAborted {
		t.Fatalf("running build's log end %+v within 5s, want reason %s", end, streams.ReasonExperimentAborted)
	}
	t.Logf("running build stopped %s after abort", time.Since(start))
	if m, err := f.results.Next(jetstream.FetchMaxWait(time.Second)); err == nil {
		t.Errorf("aborted experiment published a result: %s", m.Data())
	}
	st, err := status.Get(context.Background(), f.js, "ab")
	if err != nil {
		t.Fatal(err)
	}
	if st.Experiment.State != streams.ExperimentAborted || st.Queued != 0 {
		t.Errorf("status %+v: want aborted, nothing queued", st)
	}
	if _, err := f.js.Consumer(context.Background(), streams.JobsStream, streams.JobsConsumer("ab", "stable")); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer of an aborted experiment: %v, want it deleted", err)
	}
	// Nothing of it is built any more; other experiments are.
	f.create(t, "next", 0, "either")
	f.started(t)
	f.r.gate <- struct{}{}
	if r := f.result(t); r.Experiment != "next" {
		t.Errorf("after abort built %s", r.BuildKey)
	}
	if _, err := f.p.Retry(context.Background(), "ab", []producer.Crate{{Name: "cfg-if"}}); err == nil || !errors.Is(err, producer.ErrAborted) {
		t.Errorf("retry of an aborted experiment: %v, want %v", err, producer.ErrAborted)
	}
}

// A builder without a toolchain never takes that toolchain's jobs.
func TestToolchainFiltering(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "toolchains", "stable-x86_64-unknown-linux-gnu"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := startLifecycleFarm(t, Config{RustupHome: home, Slots: 2})
	f.create(t, "tc", 0, "cfg-if,itoa")
	var mu sync.Mutex
	got := map[string]int{}
	for range 2 {
		f.started(t)
	}
	for range 2 {
		f.r.gate <- struct{}{}
		r := f.result(t)
		mu.Lock()
		got[r.Toolchain]++
		mu.Unlock()
	}
	select {
	case tc := <-f.r.started:
		t.Errorf("a third build started, with %s", tc)
	case <-time.After(time.Second):
	}
	if got["stable"] != 2 || got["nightly"] != 0 {
		t.Errorf("built %v, want stable twice and never nightly", got)
	}
	info, err := jobsConsumer(t, f.js, streams.BuildKey{Experiment: "tc", Toolchain: "nightly"}).Info(context.Background())
	if err != nil || info.NumPending != 2 {
		t.Errorf("nightly queue %+v (%v): want its 2 jobs waiting", info, err)
	}
}
