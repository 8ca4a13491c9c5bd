package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A task shares every CPU at the sandbox's CPU weight unless pinned, as
// the kernel sees it: the task's own CPU affinity, read inside the
// sandbox, and its cgroup's files: read inside too on cgroup v2, from the
// host on v1 (where the sandbox shows no cgroup files), while it runs.
func TestRunCPUWeightAndPinning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	heavy := e.withCPUWeight(t, 250)
	all := allowedCPUs(t, "/proc/self/status")
	last := strconv.Itoa(hostCPUs(t) - 1)
	tests := []struct {
		name   string
		sb     *Containerd
		cpus   string
		weight uint64
		want   string // the CPUs the task may run on
	}{
		{"default: shared at weight 100", e.sb, "", DefaultCPUWeight, all},
		{"shared at weight 250", heavy, "", 250, all},
		{"pinned to the last CPU", e.sb, last, DefaultCPUWeight, last},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := task(t, "sh", "-c", `
				{ grep Cpus_allowed_list /proc/self/status
				  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
				    echo "weight $(cat /sys/fs/cgroup/cpu.weight)"
				    echo "cpuset $(cat /sys/fs/cgroup/cpuset.cpus.effective)"
				  fi; } > "$HOME/seen.tmp" && mv "$HOME/seen.tmp" "$HOME/seen"
				until [ -e "$HOME/release" ]; do sleep 0.05; done`)
			tk.CPUs = tt.cpus
			dir := tk.Dir
			seen := make(chan map[string]string, 1)
			go func() { seen <- cgroupSeen(t, e.cfg.Namespace, tk.ID, dir) }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var r result
			done := make(chan struct{})
			go func() {
				defer close(done)
				var out strings.Builder
				tk.Stdout, tk.Stderr = &out, &out
				exit, err := tt.sb.Run(ctx, tk)
				r = result{exit: exit, stdout: out.String(), err: err}
			}()
			got := <-seen
			<-done
			if r.err != nil || r.exit.Code != 0 {
				t.Fatalf("run: %v, exit %d, output %q", r.err, r.exit.Code, r.stdout)
			}
			if got["allowed"] != tt.want || got["cpuset"] != tt.want {
				t.Errorf("task may run on CPUs %q, its cgroup's cpuset %q; want %q", got["allowed"], got["cpuset"], tt.want)
			}
			if got["weight"] != strconv.FormatUint(tt.weight, 10) {
				t.Errorf("cgroup CPU weight %q, want %d", got["weight"], tt.weight)
			}
		})
	}
	e.assertEmpty(t)
}

// withCPUWeight is another sandbox on e's containerd whose tasks get weight.
func (e *env) withCPUWeight(t *testing.T, weight uint64) *Containerd {
	t.Helper()
	cfg := e.cfg
	cfg.CPUWeight = weight
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// cgroupSeen waits for the task to write dir/seen, reads what it saw and,
// on cgroup v1, its cgroup's files from the host, then lets it end. The
// weight is given as cgroup v2 counts it (v1's cpu.shares / 1024 * 100).
func cgroupSeen(t *testing.T, namespace, id, dir string) map[string]string {
	defer os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	seen := filepath.Join(dir, "seen")
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(seen); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Error("the task never said what it sees")
			return nil
		}
	}
	got := map[string]string{"allowed": allowedCPUs(t, seen)}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Error(err)
		return got
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && (k == "weight" || k == "cpuset") {
			got[k] = v
		}
	}
	if cgroupV2() {
		return got
	}
	// v1: runc puts the task at the spec's cgroups path, /NAMESPACE/ID.
	read := func(hierarchy, file string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", hierarchy, namespace, id, file))
		if err != nil {
			t.Error(err)
		}
		return strings.TrimSpace(string(b))
	}
	got["cpuset"] = read("cpuset", "cpuset.effective_cpus")
	if shares, err := strconv.ParseUint(read("cpu", "cpu.shares"), 10, 64); err == nil {
		got["weight"] = strconv.FormatUint(shares*DefaultCPUWeight/1024, 10)
	}
	return got
}

// The weight in the spec: cpu.weight itself on cgroup v2, where runc's
// mapping of the spec's shares would change it; shares on v1.
func TestSpecCPUWeight(t *testing.T) {
	t.Parallel()
	tk := Task{ID: "job-1", Args: []string{"/bin/true"}, Dir: "/"}
	for _, v2 := range []bool{false, true} {
		s := generate(t, specOpts(tk, false, nil, cgroups{v2: v2, cpuWeight: 250}))
		r := s.Linux.Resources
		switch {
		case v2 && (r.Unified["cpu.weight"] != "250" || r.CPU != nil && r.CPU.Shares != nil):
			t.Errorf("v2: unified %v, cpu %+v; want cpu.weight 250 and no shares", r.Unified, r.CPU)
		case !v2 && (r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != 2560 || r.Unified["cpu.weight"] != ""):
			t.Errorf("v1: unified %v, cpu %+v; want 2560 shares", r.Unified, r.CPU)
		}
	}
}

// allowedCPUs is the Cpus_allowed_list of a /proc/PID/status file.
func allowedCPUs(t *testing.T, status string) string {
	t.Helper()
	b, err := os.ReadFile(status)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Errorf("no Cpus_allowed_list in %s (%v)", status, err)
	return ""
}
