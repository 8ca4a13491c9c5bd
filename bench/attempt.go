package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// attemptSteps is how many steps the measured attempt takes: prepare,
// the crate's own resolve, build and test, as build-and-test does.
const attemptSteps = 4

// Attempt measures an attempt's steps in the sandbox, each /bin/true: as
// processes exec'd into one container (sandbox.Session, as the builder
// runs them) against a task each (Containerd.Run, as it ran them before),
// alternately, and compares the medians of the whole attempt, its
// container's teardown included.
func Attempt(t testing.TB, full bool) []Row {
	runs := 3
	if full {
		runs = 31
	}
	row := Row{Figure: fmt.Sprintf("attempt of %d steps (/bin/true), one sandbox, steps exec'd", attemptSteps),
		Goal: "≤ 0.5× a task per step"}
	if why := containerdMissing(); why != "" {
		row.Verdict, row.Note = Skipped, why
		return []Row{row}
	}
	daemon := testenv.StartContainerdDaemon(t)
	addr := daemon.Address
	// The CPU the sandbox's machinery uses, outside the containers:
	// containerd, the shims it starts, and the runc they run.
	machinery := machineryCPU(t, daemon)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: filepath.Join(t.TempDir(), "fifo")})
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { sb.Close() })

	var shared, apart, perExec, execStart, execEnd []time.Duration
	var sharedCPU, apartCPU time.Duration
	for i := range runs {
		dir := t.TempDir()
		// As a builder's slot runs: its own user, owner of the job dir.
		if err := os.Chown(dir, builder.DefaultBuildUID, builder.DefaultBuildUID); err != nil {
			t.Fatal(err)
		}
		step := func(n int) sandbox.Task {
			return sandbox.Task{ID: fmt.Sprintf("bench-%d-%d", i, n), Args: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"},
				Dir: dir, WritableDirs: []string{dir}, UID: builder.DefaultBuildUID, GID: builder.DefaultBuildUID,
				Stdout: io.Discard, Stderr: io.Discard}
		}

		begin, cpu := time.Now(), machinery()
		s := sb.Session()
		for n := range attemptSteps {
			exit, err := s.Run(ctx, step(n))
			if err != nil || exit.Code != 0 {
				t.Fatalf("step %d in a session: %+v, %v", n, exit, err)
			}
			if n > 0 {
				perExec = append(perExec, exit.Steps.Overhead()+exit.Steps.Ran)
				execStart, execEnd = append(execStart, exit.Steps.Start), append(execEnd, exit.Steps.Teardown)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("end the session: %v", err)
		}
		shared = append(shared, time.Since(begin))
		sharedCPU += machinery() - cpu

		begin, cpu = time.Now(), machinery()
		for n := range attemptSteps {
			exit, err := sb.Run(ctx, step(attemptSteps+n))
			if err != nil || exit.Code != 0 {
				t.Fatalf("step %d as a task: %+v, %v", n, exit, err)
			}
		}
		apart = append(apart, time.Since(begin))
		apartCPU += machinery() - cpu
	}
	ms, ma := measure.Median(shared), measure.Median(apart)
	row.Ejecta = fmt.Sprintf("%s median (p90 %s)", round(ms), round(measure.Quantile(shared, 0.9)))
	row.Baseline = fmt.Sprintf("%s a task per step (p90 %s)", round(ma), round(measure.Quantile(apart, 0.9)))
	row.Ratio = ratio(float64(ms), float64(ma))
	row.Verdict = judge(full, ms*2 <= ma)
	m := measure.Median
	row.Note = fmt.Sprintf("%d runs each, alternating; the first step starts the container, each later one is exec'd into it: %s median, of which exec (runc exec) %s, then leftovers looked for (runc ps) and the process deleted %s",
		runs, round(m(perExec)), round(m(execStart)), round(m(execEnd)))
	if sharedCPU > 0 {
		row.Note += fmt.Sprintf("; CPU of containerd, its shims and runc: %s an attempt in one sandbox, %s a task per step",
			round(sharedCPU/time.Duration(runs)), round(apartCPU/time.Duration(runs)))
	}
	return []Row{row}
}

// machineryCPU puts daemon in a CPU group of its own, where the shims it
// starts and the runc they run are born too, and returns the group's CPU
// time so far; it returns 0 where the machine has no such group.
func machineryCPU(t testing.TB, daemon *testenv.Containerd) func() time.Duration {
	g, err := measure.NewCPUGroup(fmt.Sprintf("ejecta-bench-%d", os.Getpid()))
	if err == nil {
		err = g.Add(daemon.Pid())
	}
	if err != nil {
		t.Logf("the sandbox machinery's CPU is not measured: %v", err)
		return func() time.Duration { return 0 }
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Logf("%v", err)
		}
	})
	return func() time.Duration {
		used, err := g.Used()
		if err != nil {
			t.Fatalf("the sandbox machinery's CPU: %v", err)
		}
		return used
	}
}
