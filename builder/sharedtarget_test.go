package builder

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// targetSteps is a fake cargo whose check step lists what its target dir
// holds, then leaves a file of size bytes[i] there (i: the check's
// number) and exits with exits[i].
type targetSteps struct {
	mu    sync.Mutex
	seen  [][]string // what each check found in its target
	dirs  []string   // each check's target
	bytes []int
	exits []sandbox.Exit
}

func (s *targetSteps) step(_ context.Context, sub string, t sandbox.Task) (sandbox.Exit, error) {
	if sub != "check" {
		return sandbox.Exit{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.seen)
	var dir string
	for _, kv := range t.Env {
		if v, ok := strings.CutPrefix(kv, "CARGO_TARGET_DIR="); ok {
			dir = v
		}
	}
	if !slices.Contains(t.WritableDirs, dir) && !strings.HasPrefix(dir, t.WritableDirs[0]+"/") {
		return sandbox.Exit{}, os.ErrPermission // the target is not writable in the sandbox
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	s.seen = append(s.seen, names)
	s.dirs = append(s.dirs, dir)
	n := 0
	if i < len(s.bytes) {
		n = s.bytes[i]
	}
	os.WriteFile(filepath.Join(dir, "built-"+string(rune('a'+i))), make([]byte, n), 0o644)
	if i < len(s.exits) {
		return s.exits[i], nil
	}
	return sandbox.Exit{}, nil
}

// runTargets builds jobs one after the other in one slot.
func runTargets(t *testing.T, s *targetSteps, cfg Config, jobs ...streams.Job) ([]streams.Result, *Builder) {
	t.Helper()
	return runTargetsWith(t, s, cfg, func(*Builder) {}, jobs...)
}

// runTargetsWith is runTargets with the builder changed by set first.
func runTargetsWith(t *testing.T, s *targetSteps, cfg Config, set func(*Builder), jobs ...streams.Job) ([]streams.Result, *Builder) {
	t.Helper()
	var b *Builder
	res, _ := runFakeWith(t, &fakeRunner{step: s.step}, cfg, streams.DefaultConfig(), func(x *Builder) { b = x; set(x) }, len(jobs),
		func(js jetstream.JetStream) {
			for _, j := range jobs {
				publishJob(t, js, j)
			}
		})
	return res, b
}

// A first run builds where the slot's last build of the toolchain left
// its artifacts; a confirmation re-run builds in a target of its own,
// and says so in its result.
func TestSharedTargetReusedButNotByReruns(t *testing.T) {
	s := &targetSteps{}
	res, _ := runFakeWith(t, &fakeRunner{step: s.step}, Config{}, streams.DefaultConfig(), func(*Builder) {}, 3,
		func(js jetstream.JetStream) {
			publishJob(t, js, fakeJob("a", streams.ModeCheckOnly))
			publishJob(t, js, fakeJob("b", streams.ModeCheckOnly))
			publishRerun(t, js, fakeJob("c", streams.ModeCheckOnly), 1)
		})
	if len(s.seen) != 3 {
		t.Fatalf("%d checks, want 3", len(s.seen))
	}
	var shared []int // the checks in a shared target, in order
	for i, dir := range s.dirs {
		if filepath.Base(dir) == "target" {
			// The re-run: its job dir's own, empty target.
			if len(s.seen[i]) != 0 {
				t.Errorf("the re-run's target %s held %v, want it empty", dir, s.seen[i])
			}
			continue
		}
		shared = append(shared, i)
	}
	if len(shared) != 2 || s.dirs[shared[0]] != s.dirs[shared[1]] || len(s.seen[shared[0]]) != 0 ||
		len(s.seen[shared[1]]) != 1 || !strings.HasPrefix(s.seen[shared[1]][0], "built-") {
		t.Errorf("first runs built in %v finding %v, want one shared target, the second finding the first's artifacts", s.dirs, s.seen)
	}
	for _, r := range res {
		rerun := streams.AttemptRound(r.Attempt) > 0
		if r.SharedTarget == rerun || r.Validate() != nil {
			t.Errorf("result of %s attempt %d: shared target %v (%v); want one for first runs only", r.Crate, r.Attempt, r.SharedTarget, r.Validate())
		}
	}
}

// An attempt that did not end by itself (here killed for memory) leaves
// nothing for the next job to build on.
func TestSharedTargetPurgedAfterAnAbnormalEnd(t *testing.T) {
	s := &targetSteps{exits: []sandbox.Exit{{Code: 137, OOMKilled: true}}}
	res, b := runTargets(t, s, Config{}, fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly))
	if res[0].Reason != streams.ReasonOOM || !res[0].SharedTarget {
		t.Fatalf("first result %+v, want oom in a shared target", res[0])
	}
	if s.dirs[0] != s.dirs[1] || len(s.seen[1]) != 0 {
		t.Errorf("after an oom the next build found %v in %s, want an empty shared target", s.seen[1], s.dirs[1])
	}
	if n := counterValue(t, b.met.sharedPurges.WithLabelValues(purgeAbnormal)); n != 1 {
		t.Errorf("%v purges for an abnormal end, want 1", n)
	}
	// The set-aside tree is removed in the background, not left behind.
	b.removals.Wait()
	ents, _ := os.ReadDir(filepath.Dir(s.dirs[0]))
	if len(ents) != 1 {
		t.Errorf("targets dir holds %v, want only the slot's target", ents)
	}
}

// A shared target past its bound is purged before the next build, which
// counts as having used one: it built in a dir others could write to.
func TestSharedTargetPurgedPastItsBound(t *testing.T) {
	s := &targetSteps{bytes: []int{65 << 20, 1}}
	cfg := Config{SharedTargetBytes: 64 << 20}
	a, b2, c := fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly), fakeJob("c", streams.ModeCheckOnly)
	res, b := runTargets(t, s, cfg, a, b2, c)
	if len(s.seen[1]) != 0 {
		t.Errorf("the build after one that passed the bound found %v, want a purged target", s.seen[1])
	}
	if !slices.Equal(s.seen[2], []string{"built-b"}) {
		t.Errorf("the build after one within the bound found %v, want the target kept", s.seen[2])
	}
	if n := counterValue(t, b.met.sharedPurges.WithLabelValues(purgeSize)); n != 1 {
		t.Errorf("%v purges for size, want 1", n)
	}
	for _, r := range res {
		if !r.SharedTarget {
			t.Errorf("result %+v does not say it used a shared target", r)
		}
	}
}

// When the work dir's disk runs low, shared targets are purged before
// their next build, before the builder has to stop taking jobs.
func TestSharedTargetPurgedOnLowDisk(t *testing.T) {
	s := &targetSteps{}
	var free atomic.Uint64
	free.Store(100 << 30)
	// Free disk drops under twice the minimum once the first build is done.
	res, b := runTargetsWith(t, s, Config{MinFreeDiskBytes: 1 << 30}, func(b *Builder) {
		b.freeDisk = func(string) (uint64, error) { return free.Load(), nil }
		r := b.run.(*fakeRunner)
		r.step = func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
			e, err := s.step(ctx, sub, task)
			if sub == "check" {
				free.Store(1536 << 20)
			}
			return e, err
		}
	}, fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly))
	if len(s.seen) != 2 || len(s.seen[1]) != 0 {
		t.Errorf("with free disk low the next build found %v, want a purged target", s.seen)
	}
	if n := counterValue(t, b.met.sharedPurges.WithLabelValues(purgeDisk)); n != 1 {
		t.Errorf("%v purges for low disk, want 1", n)
	}
	if !res[1].SharedTarget {
		t.Errorf("result %+v: want a shared target, purged", res[1])
	}
}

// Shared targets can be turned off: every attempt builds in its own.
func TestSharedTargetsOff(t *testing.T) {
	s := &targetSteps{}
	res, _ := runTargets(t, s, Config{SharedTargetBytes: -1}, fakeJob("a", streams.ModeCheckOnly), fakeJob("b", streams.ModeCheckOnly))
	if s.dirs[0] == s.dirs[1] || len(s.seen[1]) != 0 {
		t.Errorf("with shared targets off: targets %v, second found %v", s.dirs, s.seen[1])
	}
	for _, r := range res {
		if r.SharedTarget {
			t.Errorf("result %+v says it used a shared target", r)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
