package bench

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// gapBuilder is the slot idle gap builder's ID; its tasks' IDs are
// "ejecta-<ID>-<slot>-<n>".
const gapBuilder = "gap"

// SlotGap measures how long a builder's slot stays idle between jobs:
// from the return of one job's last sandbox task to the call that starts
// the next job's first, on a builder with 2 slots and the real containerd
// sandbox. The tasks are a script standing in for cargo that prints one
// line, so what lies between them is the builder's own work: finishing
// the log, publishing the upload request and the result, acknowledging,
// fetching the next job and preparing its workspace. There is no baseline:
// the figure is idle time, and the goal is absolute.
func SlotGap(t testing.TB, full bool) []Row {
	crates := 2
	if full {
		crates = 30
	}
	jobs := 2 * crates // stable and nightly
	row := Row{Figure: fmt.Sprintf("slot idle gap between jobs (2 slots, containerd, %d quick jobs)", jobs), Goal: "≤ 100 ms max"}
	if why := containerdMissing(); why != "" {
		row.Verdict, row.Note = Skipped, why
		return []Row{row}
	}
	for _, tc := range []string{"stable", "nightly"} {
		if err := exec.Command("rustc", "+"+tc, "-V").Run(); err != nil {
			row.Verdict, row.Note = Skipped, "toolchain "+tc+" not installed"
			return []Row{row}
		}
	}
	f := newFarm(t)
	runner := &timedRunner{Runner: newSandbox(t)}
	b, err := builder.New(builder.Config{
		ID: gapBuilder, Slots: 2, WorkDir: testenv.DurableTempDir(t), CargoPath: testenv.QuickCargo(t), MinFreeDiskBytes: -1,
	}, f.nc, runner, quiet(t).Level(zerolog.ErrorLevel))
	if err != nil {
		t.Fatalf("new builder: %v", err)
	}
	ctx := context.Background()
	results, err := f.js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if added := f.create("gap", crateSource(t, crates)); added != jobs {
		t.Fatalf("the producer added %d jobs, want %d", added, jobs)
	}
	// The builder starts with every job queued: a slot never waits for one.
	run(t, "builder", b.Run)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for range jobs {
		m, err := results.Next(jetstream.FetchContext(wctx))
		if err != nil {
			t.Fatalf("waiting for results: %v", err)
		}
		var r streams.Result
		if err := streams.Decode(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != streams.StatusTestPass {
			t.Fatalf("result %s: %s %s, want test-pass", r.BuildKey, r.Status, r.Reason)
		}
	}
	spans, tasks := runner.taken()
	gaps := measure.Gaps(spans)
	if len(gaps) != jobs-2 {
		t.Fatalf("found %d gaps between jobs, want %d", len(gaps), jobs-2)
	}
	worst := slices.Max(gaps)
	row.Ejecta = fmt.Sprintf("max %s, median %s, p90 %s", round(worst), round(measure.Median(gaps)), round(measure.Quantile(gaps, 0.9)))
	row.Verdict = judge(full, worst <= 100*time.Millisecond)
	row.Note = fmt.Sprintf("%d gaps; a sandbox task (create to delete) took %s median", len(gaps), round(measure.Median(tasks)))
	return []Row{row}
}

// newSandbox connects to a private containerd.
func newSandbox(t testing.TB) *sandbox.Containerd {
	t.Helper()
	addr := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{Address: addr, Namespace: testenv.ContainerdNamespace(t),
		FIFODir: filepath.Join(testenv.DurableTempDir(t), "fifo")})
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// timedRunner notes, per slot, when each task was in the real runner.
type timedRunner struct {
	builder.Runner
	mu    sync.Mutex
	spans []measure.Span
}

func (r *timedRunner) Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error) {
	start := time.Now()
	exit, err := r.Runner.Run(ctx, t)
	end := time.Now()
	if len(t.WritableDirs) == 0 {
		// rustc -vV, once per toolchain before the first job's steps:
		// part of that job, not a step of its own.
		return exit, err
	}
	slot, _, _ := strings.Cut(strings.TrimPrefix(t.ID, "ejecta-"+gapBuilder+"-"), "-")
	n, convErr := strconv.Atoi(slot)
	if convErr != nil {
		return exit, fmt.Errorf("task ID %q: no slot in it: %w", t.ID, convErr)
	}
	r.mu.Lock()
	r.spans = append(r.spans, measure.Span{Lane: n, Unit: t.WritableDirs[0], Start: start, End: end})
	r.mu.Unlock()
	return exit, err
}

// taken returns the spans so far and the tasks' durations.
func (r *timedRunner) taken() ([]measure.Span, []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ds []time.Duration
	for _, s := range r.spans {
		ds = append(ds, s.End.Sub(s.Start))
	}
	return slices.Clone(r.spans), ds
}
