package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// Sandbox measures the cost of isolation per task: create, start, wait for
// and delete a containerd task running /bin/true, against running
// /bin/true directly, alternately, and compares the medians.
func Sandbox(t testing.TB, full bool) []Row {
	runs := 3
	if full {
		runs = 31
	}
	row := Row{Figure: "sandbox overhead per task (containerd, /bin/true)", Goal: "≤ 300 ms median"}
	if why := containerdMissing(); why != "" {
		row.Verdict, row.Note = Skipped, why
		return []Row{row}
	}
	addr := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: filepath.Join(t.TempDir(), "fifo")})
	if err != nil {
		t.Fatalf("connect to containerd: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	var boxed, direct []time.Duration
	var create, newTask, start, ran, teardown []time.Duration
	for i := range runs {
		dir := t.TempDir()
		// As a builder's slot runs: its own user, owner of the job dir.
		if err := os.Chown(dir, builder.DefaultBuildUID, builder.DefaultBuildUID); err != nil {
			t.Fatal(err)
		}
		tk := sandbox.Task{ID: fmt.Sprintf("bench-%d", i), Args: []string{"/bin/true"}, Env: []string{"PATH=/usr/bin:/bin"},
			Dir: dir, WritableDirs: []string{dir}, UID: builder.DefaultBuildUID, GID: builder.DefaultBuildUID,
			Stdout: io.Discard, Stderr: io.Discard}
		begin := time.Now()
		exit, err := sb.Run(ctx, tk)
		if err != nil || exit.Code != 0 {
			t.Fatalf("sandboxed /bin/true: %+v, %v", exit, err)
		}
		boxed = append(boxed, time.Since(begin))
		s := exit.Steps
		create, newTask, start = append(create, s.Create), append(newTask, s.NewTask), append(start, s.Start)
		ran, teardown = append(ran, s.Ran), append(teardown, s.Teardown)

		begin = time.Now()
		if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
			t.Fatal(err)
		}
		direct = append(direct, time.Since(begin))
	}
	mb, md := measure.Median(boxed), measure.Median(direct)
	row.Ejecta = fmt.Sprintf("%s median, overhead %s (p90 %s)", round(mb), round(mb-md), round(measure.Quantile(boxed, 0.9)))
	row.Baseline = round(md) + " run directly"
	row.Ratio = ratio(float64(mb), float64(md))
	row.Verdict = judge(full, mb-md <= 300*time.Millisecond)
	// Where the time goes (builder/sandbox.Steps), each step's median.
	m := measure.Median
	row.Note = fmt.Sprintf("%d runs each, alternating; median steps: container %s, task (shim, runc create) %s, start %s, run %s, teardown (task, shim, container) %s",
		runs, round(m(create)), round(m(newTask)), round(m(start)), round(m(ran)), round(m(teardown)))
	return []Row{row}
}

// containerdMissing says why the sandbox cannot be measured here, or "".
func containerdMissing() string {
	if os.Geteuid() != 0 {
		return "containerd needs root"
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
	}
	return ""
}
