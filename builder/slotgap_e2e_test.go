package builder

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// timedRunner records when every task the real runner runs was in it, as
// the builder saw it: from its call of Run to Run's return (the task
// exited and was deleted), the lane being the slot. It changes nothing
// about the run: the figure is the builder's own time between tasks.
type timedRunner struct {
	Runner
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
	// Task IDs are <prefix><slot>-<n> (taskid.go).
	slot, _, _ := strings.Cut(strings.TrimPrefix(t.ID, containerPrefix(slotGapBuilder)), "-")
	n, convErr := strconv.Atoi(slot)
	if convErr != nil {
		return exit, fmt.Errorf("task ID %q: no slot in it: %w", t.ID, convErr)
	}
	r.mu.Lock()
	r.spans = append(r.spans, measure.Span{Lane: n, Unit: t.WritableDirs[0], Start: start, End: end})
	r.mu.Unlock()
	return exit, err
}

// Rootfs and Hardening forward to the real runner: they are what the log's
// sandbox line says.
func (r *timedRunner) Rootfs() string { return r.Runner.(rootfsDescriber).Rootfs() }

func (r *timedRunner) Hardening() string {
	return r.Runner.(interface{ Hardening() string }).Hardening()
}

const slotGapBuilder = "gap-builder"

// A builder with 2 slots keeps both busy: between one job's end and the
// next job's first task a slot is idle at most 100 ms (issue 4, Speed).
// The jobs are quick (two sandbox tasks of a script each) so that the
// builder's own work between jobs (finishing the log, publishing the
// upload request and result, acknowledging, fetching the next job,
// preparing its workspace) is what the figure shows. The sandbox is the
// real one; the runner is only timed.
func TestSlotIdleGap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containerd tasks")
	}
	const jobs = 20
	nc, js := startJetStream(t, streams.DefaultConfig())
	cargo := testenv.QuickCargo(t)
	for i := range jobs {
		publishJob(t, js, streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "gap", Crate: fmt.Sprintf("quick-%02d", i),
			Version: "1.0.0", Toolchain: "stable"}, Mode: streams.ModeCheckOnly, CrateSource: testenv.DebianRegistry})
	}
	runner := &timedRunner{}
	startBuilderWith(t, nc, Config{ID: slotGapBuilder, Slots: 2, CargoPath: cargo,
		InProgressEvery: time.Second, HeartbeatEvery: 500 * time.Millisecond},
		func(sb *sandbox.Containerd) Runner { runner.Runner = sb; return runner })

	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var last streams.Result
	for range jobs {
		var r streams.Result
		nextJSON(t, results, time.Minute, &r)
		if r.Status != streams.StatusTestPass {
			t.Fatalf("result %s: %s %s, want test-pass", r.BuildKey, r.Status, r.Reason)
		}
		last = r
	}
	runner.mu.Lock()
	spans := slices.Clone(runner.spans)
	runner.mu.Unlock()
	if len(spans) != 2*jobs {
		t.Fatalf("%d tasks ran, want %d (two steps per job)", len(spans), 2*jobs)
	}
	slotsUsed := map[int]bool{}
	for _, s := range spans {
		slotsUsed[s.Lane] = true
	}
	if len(slotsUsed) != 2 {
		t.Fatalf("tasks ran in slots %v, want both slots busy", slotsUsed)
	}
	// The log says which root the task had, in the sandbox's own words.
	text := logText(t, js, last.BuildKey, last.Attempt, streams.StatusTestPass)
	wantLine := buildlog.SystemPrefix + "sandbox: host root read-only; user "
	if !strings.Contains(text, "\n"+wantLine) {
		t.Errorf("log of %s has no line starting %q:\n%s", last.BuildKey, wantLine, text)
	}

	gaps := measure.Gaps(spans)
	if len(gaps) != jobs-2 {
		t.Fatalf("found %d gaps between jobs, want %d (jobs minus one per slot)", len(gaps), jobs-2)
	}
	worst, median := slices.Max(gaps), measure.Median(gaps)
	t.Logf("slot idle gap between jobs over %d gaps: median %s, max %s (goal: max <= 100ms)", len(gaps), median, worst)
	// On a loaded machine (other test packages running) the gap is mostly
	// waiting for a CPU: then only the median is held to the goal, and the
	// max to a bound that a slot waiting on a timer would break. `make
	// bench` (row "slot idle gap") judges the goal itself.
	if load, ok := loadPerCPU(); ok && load < 1 {
		if worst > 100*time.Millisecond {
			t.Errorf("slot idle gap: max %s (median %s) at load %.2f per CPU; want at most 100ms", worst, median, load)
		}
	} else if median > 100*time.Millisecond || worst > time.Second {
		t.Errorf("slot idle gap at load %.2f per CPU: median %s, max %s; want the median within 100ms and no gap near a second", load, median, worst)
	}
}

// loadPerCPU is the one-minute load average over the CPUs, from /proc.
func loadPerCPU() (float64, bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, false
	}
	load, err := strconv.ParseFloat(f[0], 64)
	return load / float64(runtime.NumCPU()), err == nil
}
