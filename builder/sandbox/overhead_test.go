package sandbox

import (
	"context"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
)

// The cost of isolation per task: create, start, wait and delete a
// container running /bin/true, against running it directly. The goal is a
// median under 300 ms (≈260 ms on an idle 2-core machine; over 1 s while
// other test packages load it). The test logs the figures and fails only
// far above them, where a teardown waits on a timeout instead of working;
// `make bench` (package bench, row "sandbox") judges the goal.
func TestSandboxOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("measures containerd tasks")
	}
	e := newEnv(t)
	const runs = 15
	var boxed, direct []time.Duration
	for range runs {
		tk := task(t, "/bin/true")
		tk.Stdout, tk.Stderr = io.Discard, io.Discard
		start := time.Now()
		exit, err := e.sb.Run(context.Background(), tk)
		took := time.Since(start)
		if err != nil || exit.Code != 0 {
			t.Fatalf("sandboxed true: %+v, %v", exit, err)
		}
		boxed = append(boxed, took)
		// The steps account for the whole run, each of them for some.
		s := exit.Steps
		if sum := s.Overhead() + s.Ran; sum > took || sum < took-10*time.Millisecond {
			t.Errorf("steps %+v add up to %s; the run took %s", s, sum, took)
		}
		if s.Create <= 0 || s.NewTask <= 0 || s.Start <= 0 || s.Ran <= 0 || s.Teardown <= 0 {
			t.Errorf("a step without time: %+v", s)
		}

		start = time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	mb, md := measure.Median(boxed), measure.Median(direct)
	t.Logf("median over %d runs of /bin/true: sandboxed %s, direct %s, overhead %s (goal <= 300ms)", runs, mb, md, mb-md)
	if mb-md > 5*time.Second {
		t.Errorf("sandbox overhead %s per task", mb-md)
	}
}
