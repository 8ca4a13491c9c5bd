package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// Cores measures what sharing every core at one CPU weight (the
// builder's default) gains over pinning each slot to a core
// (--pin-cores), with two slots in real containerd sandboxes, run
// alternately, pinned and shared. Slot 0 runs a two-threaded CPU-bound
// task, as cargo compiles crates in parallel; slot 1 either idles, as a
// slot does between jobs and steps, or runs the same task. The figure is
// slot 0's running time (the sandbox's own cost left out), shared against
// pinned: with slot 1 idle, sharing lets the task use the idle core. With
// both busy it is the later of the two slots' running times: equal
// weights split the cores as pinning would, and the pair should take no
// longer.
func Cores(t testing.TB, full bool) []Row {
	runs, spins := 1, 20_000
	if full {
		runs, spins = 5, 1_500_000
	}
	rows := []Row{
		{Figure: "cores: 2-thread CPU-bound task, other slot idle (2 slots, containerd), shared ÷ pinned", Goal: "≤ 0.75×"},
		{Figure: "cores: 2-thread CPU-bound task in both slots (2 slots, containerd), both done, shared ÷ pinned", Goal: "≤ 1.10×"},
	}
	skip := func(why string) []Row {
		for i := range rows {
			rows[i].Verdict, rows[i].Note = Skipped, why
		}
		return rows
	}
	if why := containerdMissing(); why != "" {
		return skip(why)
	}
	if runtime.NumCPU() < 2 {
		return skip("one CPU: nothing to pin apart")
	}
	sb := newCoresSandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	n := 0
	for i, busy := range []bool{false, true} {
		var shared, pinned []time.Duration
		for range runs {
			for _, pin := range []bool{true, false} {
				n++
				d := slotPair(ctx, t, sb, n, pin, busy, spins)
				if pin {
					pinned = append(pinned, d)
				} else {
					shared = append(shared, d)
				}
			}
		}
		s, p := measure.Median(shared), measure.Median(pinned)
		rows[i].Ejecta = round(s) + " median, shared"
		rows[i].Baseline = round(p) + " median, pinned"
		rows[i].Ratio = ratio(float64(s), float64(p))
		limit := 0.75
		if busy {
			limit = 1.10
		}
		rows[i].Verdict = judge(full, float64(s) <= limit*float64(p))
		rows[i].Note = fmt.Sprintf("%d runs each, alternating; each thread %d iterations of a shell loop; slot 0's run time (both busy: the later slot's), sandbox overhead left out; on a shared machine other work takes cores too", runs, spins)
	}
	return rows
}

// newCoresSandbox is a sandbox on a private containerd, at the default
// CPU weight.
func newCoresSandbox(t testing.TB) *sandbox.Containerd {
	addr := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: filepath.Join(t.TempDir(), "fifo")})
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// slotPair runs slot 0's two spinning threads and, beside them, slot 1's
// task (the same, or a wait until slot 0 is done), slot s pinned to CPU
// s or both sharing every CPU, and returns how long slot 0's task ran
// or, both busy, the longer of the two.
// Its tasks' IDs are cores-<n>-<slot>.
func slotPair(ctx context.Context, t testing.TB, sb *sandbox.Containerd, n int, pin, busy bool, spins int) time.Duration {
	spin := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); done`, spins)
	work := fmt.Sprintf(`( %s ) & ( %s ) & wait`, spin, spin)
	dirs := [2]string{}
	for s := range dirs {
		dirs[s] = t.TempDir()
		if err := os.Chown(dirs[s], builder.DefaultBuildUID, builder.DefaultBuildUID); err != nil {
			t.Fatal(err)
		}
	}
	idle := fmt.Sprintf(`until [ -e %s/done ]; do sleep 0.05; done`, dirs[1])
	var wg sync.WaitGroup
	var ran [2]time.Duration
	var errs [2]error
	for s := range 2 {
		script := work
		if s == 1 && !busy {
			script = idle
		}
		tk := sandbox.Task{ID: fmt.Sprintf("cores-%d-%d", n, s), Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
			Dir: dirs[s], WritableDirs: []string{dirs[s]}, UID: builder.DefaultBuildUID + uint32(s), GID: builder.DefaultBuildUID + uint32(s),
			Stdout: io.Discard, Stderr: io.Discard}
		if pin {
			tk.CPUs = strconv.Itoa(s)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			exit, err := sb.Run(ctx, tk)
			if err == nil && exit.Code != 0 {
				err = fmt.Errorf("exit %d", exit.Code)
			}
			ran[s], errs[s] = exit.Steps.Ran, err
			if s == 0 {
				// Slot 1 idles until slot 0 is done.
				_ = os.WriteFile(filepath.Join(dirs[1], "done"), nil, 0o644)
			}
		}()
	}
	wg.Wait()
	for s, err := range errs {
		if err != nil {
			t.Fatalf("slot %d (pinned %v): %v", s, pin, err)
		}
	}
	if busy {
		return max(ran[0], ran[1])
	}
	return ran[0]
}
