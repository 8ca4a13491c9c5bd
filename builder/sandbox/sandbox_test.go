package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

const testPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// env is one test's containerd: a private daemon and its own namespace.
type env struct {
	address string
	cfg     Config
	sb      *Containerd
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(*Config) {})
}

// newEnvWith is newEnv with the sandbox's Config changed by set.
func newEnvWith(t *testing.T, set func(*Config)) *env {
	t.Helper()
	addr := testenv.StartContainerd(t)
	cfg := Config{
		Address:   addr,
		Namespace: testenv.ContainerdNamespace(t),
		FIFODir:   filepath.Join(t.TempDir(), "fifo"),
	}
	set(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return &env{address: addr, cfg: cfg, sb: sb}
}

var taskSeq atomic.Int64

// testUID and testGID are the unprivileged user tasks run as, owner of
// their writable directory only.
const testUID, testGID = 1000000001, 1000000001

// task returns a Task running args as testUID in a fresh writable
// directory that user owns.
func task(t *testing.T, args ...string) Task {
	dir := t.TempDir()
	if err := os.Chown(dir, testUID, testGID); err != nil {
		t.Fatal(err)
	}
	return Task{
		ID:           fmt.Sprintf("job-%d", taskSeq.Add(1)),
		Args:         args,
		Env:          []string{testPath, "HOME=" + dir},
		Dir:          dir,
		WritableDirs: []string{dir},
		UID:          testUID,
		GID:          testGID,
	}
}

type result struct {
	// exit is how the task ended, without its timings, which are in steps:
	// tests compare it whole.
	exit           Exit
	steps          Steps
	stdout, stderr string
	err            error
}

func (e *env) run(ctx context.Context, tk Task) result {
	var stdout, stderr bytes.Buffer
	tk.Stdout, tk.Stderr = &stdout, &stderr
	exit, err := e.sb.Run(ctx, tk)
	steps := exit.Steps
	exit.Steps = Steps{}
	return result{exit, steps, stdout.String(), stderr.String(), err}
}

// mustRun runs tk and fails t on a sandbox error.
func (e *env) mustRun(t *testing.T, tk Task) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := e.run(ctx, tk)
	if r.err != nil {
		t.Fatalf("Run(%q): %v\nstdout: %s\nstderr: %s", tk.Args, r.err, r.stdout, r.stderr)
	}
	return r
}

// assertEmpty fails t if the namespace still has containers or FIFO dirs.
func (e *env) assertEmpty(t *testing.T) {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), e.cfg.Namespace)
	ctrs, err := e.sb.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ctrs {
		t.Errorf("container %s left in namespace %s", c.ID(), e.cfg.Namespace)
	}
	entries, _ := os.ReadDir(e.cfg.FIFODir)
	for _, d := range entries {
		t.Errorf("FIFO dir %s left in %s", d.Name(), e.cfg.FIFODir)
	}
}

func TestRunOutputAndExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"separate streams", []string{"/bin/sh", "-c", "printf out; printf err >&2"}, 0, "out", "err"},
		{"exit code", []string{"/bin/sh", "-c", "printf bye; exit 3"}, 3, "bye", ""},
		// The task's first process is pid 1 of its namespace, immune to
		// its own signals; a child shows how a signal death is encoded.
		{"child killed by signal", []string{"/bin/sh", "-c", `exec 2>/dev/null; sh -c 'kill -TERM $$'; exit $?`}, 128 + int(syscall.SIGTERM), "", ""},
		{"command from PATH", []string{"printf", "%s-%s", "a", "b"}, 0, "a-b", ""},
		{"no trailing newline lost", []string{"/bin/sh", "-c", "printf 'a\\nb'"}, 0, "a\nb", ""},
		{"large output", []string{"/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"}, 0, strings.Repeat("x", 3000000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.mustRun(t, task(t, tt.args...))
			if r.exit != (Exit{Code: tt.code}) {
				t.Errorf("exit = %+v, want code %d", r.exit, tt.code)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout = %.80q (%d bytes), want %.80q (%d bytes)", r.stdout, len(r.stdout), tt.stdout, len(tt.stdout))
			}
			if r.stderr != tt.stderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
	e.assertEmpty(t)
}

func TestRunFilesystem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A file in the host's /tmp that the sandbox's private /tmp must hide.
	hostTmp, err := os.CreateTemp("", "ejecta-sandbox-private-")
	if err != nil {
		t.Fatal(err)
	}
	hostTmp.Close()
	t.Cleanup(func() { os.Remove(hostTmp.Name()) })

	tests := []struct {
		name   string
		script string // run by /bin/sh in the task's writable dir
		ok     bool   // exit 0 expected
		stderr string // substring of stderr, if ok is false
	}{
		{"root is read-only", "touch /etc/ejecta-sandbox-test", false, "Read-only file system"},
		{"usr is read-only", "mkdir /usr/ejecta-sandbox-test", false, "Read-only file system"},
		{"root cannot remount", "mount -o remount,rw /", false, ""},
		{"host files readable", "test -r /etc/os-release", true, ""},
		{"dir is writable", "echo hi > written && cat written", true, ""},
		{"tmp is writable", "echo hi > /tmp/x && test -s /tmp/x", true, ""},
		{"tmp is private", "test ! -e " + hostTmp.Name(), true, ""},
		{"daemon socket hidden", "test ! -e " + e.address, true, ""},
		{"own pid namespace", `test "$$" = 1`, true, ""},
		{"own proc", "test ! -e /proc/" + fmt.Sprint(os.Getpid()), true, ""},
		{"no new privileges", `grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := task(t, "/bin/sh", "-c", tt.script)
			r := e.mustRun(t, tk)
			if ok := r.exit.Code == 0; ok != tt.ok {
				t.Fatalf("exit %d, want success=%v\nstdout: %s\nstderr: %s", r.exit.Code, tt.ok, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.stderr)
			}
		})
	}

	t.Run("writes reach the host", func(t *testing.T) {
		tk := task(t, "/bin/sh", "-c", "echo from-sandbox > out.txt")
		e.mustRun(t, tk)
		got, err := os.ReadFile(filepath.Join(tk.Dir, "out.txt"))
		if err != nil || string(got) != "from-sandbox\n" {
			t.Errorf("host sees %q, %v", got, err)
		}
	})
	if _, err := os.Stat("/etc/ejecta-sandbox-test"); err == nil {
		t.Error("the sandbox wrote /etc/ejecta-sandbox-test on the host")
	}
}

// TestRunSubmountsReadOnly checks that mounts below the host's "/" are
// read-only in the sandbox too ("rro"): on a real host /home, /var or /srv
// are often mounts of their own, and "ro" alone would leave them writable.
func TestRunSubmountsReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Not under /tmp, which the sandbox hides behind its own tmpfs.
	dir, err := os.MkdirTemp("/var/tmp", "ejecta-sandbox-submount-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a writable tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(dir, "host"), []byte("x"), 0o644); err != nil {
		t.Fatalf("submount not writable on the host: %v", err)
	}
	// Writable by the task's user on the host, so only the mount stops it.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}

	r := e.mustRun(t, task(t, "/bin/sh", "-c", "test -e "+dir+"/host && touch "+dir+"/sandbox"))
	if r.exit.Code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("writing to a host submount: exit %d, stderr %q; want a read-only failure", r.exit.Code, r.stderr)
	}
}

func TestRunNoNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("only loopback", func(t *testing.T) {
		r := e.mustRun(t, task(t, "/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"))
		if r.exit.Code != 0 || r.stdout != "lo\n" {
			t.Errorf("interfaces = %q (exit %d, stderr %q), want only lo", r.stdout, r.exit.Code, r.stderr)
		}
	})

	t.Run("host loopback unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var accepted atomic.Int64
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		// The helper itself must work: it connects from the host.
		self, _ := os.Executable()
		check := exec.Command(self, ln.Addr().String())
		check.Env = append(os.Environ(), helperEnv+"=dial")
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("helper cannot connect even from the host: %v: %s", err, out)
		}
		// The accept loop counts that connection on its own time, maybe
		// after the helper has exited: wait for it, or it would be counted
		// as the sandbox's.
		for deadline := time.Now().Add(5 * time.Second); accepted.Load() < 1; {
			if time.Now().After(deadline) {
				t.Fatal("the host's own connection was never accepted")
			}
			time.Sleep(10 * time.Millisecond)
		}
		before := accepted.Load()

		tk := task(t)
		tk.Args = []string{helperBinary(t, tk.Dir), ln.Addr().String()}
		tk.Env = append(tk.Env, helperEnv+"=dial")
		r := e.mustRun(t, tk)
		if r.exit.Code == 0 {
			t.Errorf("sandbox connected to the host's %s: %s", ln.Addr(), r.stdout)
		}
		if n := accepted.Load() - before; n != 0 {
			t.Errorf("listener accepted %d connections from the sandbox", n)
		}
		t.Logf("dial from sandbox: exit %d: %s", r.exit.Code, strings.TrimSpace(r.stderr))

		// A prepare step that downloads is given the host's network; the
		// same dial then gets through.
		tk = task(t)
		tk.Args = []string{helperBinary(t, tk.Dir), ln.Addr().String()}
		tk.Env = append(tk.Env, helperEnv+"=dial")
		tk.Network = true
		r = e.mustRun(t, tk)
		if r.exit.Code != 0 {
			t.Errorf("with Network, dial from the sandbox failed: exit %d: %s", r.exit.Code, r.stderr)
		}
		for deadline := time.Now().Add(5 * time.Second); accepted.Load()-before < 1 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // counted on the accept loop's time, as above
		}
		if n := accepted.Load() - before; n != 1 {
			t.Errorf("with Network, listener accepted %d connections, want 1", n)
		}
	})
}

func TestRunMemoryLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const limit = 64 << 20
	tests := []struct {
		name   string
		script string // $H is the helper binary
		want   Exit
		stdout string
	}{
		{"main process killed", `exec "$H" 256`, Exit{Code: 137, OOMKilled: true}, ""},
		{"child killed, parent survives", `"$H" 256; echo "child exit $?"`, Exit{Code: 0, OOMKilled: true}, "child exit 137\n"},
		{"under the limit", `exec "$H" 16`, Exit{Code: 0}, "allocated 16 MiB\n"},
		{"137, but not for memory", `sh -c 'kill -KILL $$'; exit $?`, Exit{Code: 137}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := task(t, "/bin/sh", "-c", tt.script)
			tk.Env = append(tk.Env, "H="+helperBinary(t, tk.Dir), helperEnv+"=alloc")
			tk.MemoryBytes = limit
			r := e.mustRun(t, tk)
			if r.exit != tt.want {
				t.Errorf("exit = %+v, want %+v\nstderr: %s", r.exit, tt.want, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
		})
	}
}

func TestRunPidsLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tk := task(t, "/bin/sh", "-c", "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; echo all started")
	tk.PidsLimit = 20
	start := time.Now()
	r := e.mustRun(t, tk)
	if r.exit.Code == 0 || strings.Contains(r.stdout, "all started") {
		t.Errorf("100 processes started under PidsLimit 20: exit %d, stdout %q", r.exit.Code, r.stdout)
	}
	if !strings.Contains(strings.ToLower(r.stderr), "fork") {
		t.Errorf("stderr = %q, want a fork failure", r.stderr)
	}
	// The sleeps died with the container's pid namespace, not after 30s.
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("run took %s", d)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("host cannot fork after the sandbox's fork loop: %v", err)
	}
	e.assertEmpty(t)
}

func TestRunCPUs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		cpus string
		want string
	}{
		{"0", "1\n"},
		{"", fmt.Sprintf("%d\n", hostCPUs(t))},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("cpus=%q", tt.cpus), func(t *testing.T) {
			tk := task(t, "nproc")
			tk.CPUs = tt.cpus
			r := e.mustRun(t, tk)
			if r.exit.Code != 0 || r.stdout != tt.want {
				t.Errorf("nproc = %q (exit %d, stderr %q), want %q", r.stdout, r.exit.Code, r.stderr, tt.want)
			}
		})
	}
}

func hostCPUs(t *testing.T) int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}

func TestRunContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			// Long enough for the task to start on a loaded machine.
			return context.WithTimeout(context.Background(), 5*time.Second)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(5*time.Second, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			r := e.run(ctx, task(t, "/bin/sh", "-c", "echo started; exec sleep 60"))
			elapsed := time.Since(start)
			if !errors.Is(r.err, tt.want) {
				t.Fatalf("err = %v, want %v", r.err, tt.want)
			}
			if elapsed > 15*time.Second {
				t.Errorf("Run returned after %s", elapsed)
			}
			if r.exit.Code != 137 || r.exit.OOMKilled {
				t.Errorf("exit = %+v, want code 137 without OOM", r.exit)
			}
			if r.stdout != "started\n" {
				t.Errorf("stdout = %q: output before the kill lost", r.stdout)
			}
			t.Logf("returned after %s: %v", elapsed.Round(time.Millisecond), r.err)
			e.assertEmpty(t)
		})
	}

	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := e.run(ctx, task(t, "true"))
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
		e.assertEmpty(t)
	})
}

func TestRunSandboxError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run(context.Background(), task(t, "/nonexistent/cargo"))
	if r.err == nil || errors.Is(r.err, ErrInvalidTask) {
		t.Fatalf("err = %v, want a sandbox error", r.err)
	}
	if !strings.Contains(r.err.Error(), "start task") && !strings.Contains(r.err.Error(), "new task") {
		t.Errorf("err = %v, want it to name the step", r.err)
	}
	t.Logf("err: %v", r.err)
	e.assertEmpty(t)

	// The failure left nothing behind that blocks the ID.
	tk := task(t, "true")
	e.mustRun(t, tk)
	e.mustRun(t, tk)
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := namespaces.WithNamespace(context.Background(), e.cfg.Namespace)

	// What a builder killed mid-run leaves: containers with running tasks
	// and their FIFO directories, nobody reading the FIFOs.
	crash := func(id string) {
		tk := task(t, "/bin/sh", "-c", "echo started; exec sleep 60")
		tk.ID = id
		leaveStarted(t, ctx, e.sb, e.cfg.FIFODir, tk)
	}
	crash("crashed-1")
	crash("crashed-2")
	crash("crashed-10") // what a prefix match of "crashed-1" would take
	crash("other-1")
	// A FIFO dir whose container was already deleted.
	if err := os.MkdirAll(filepath.Join(e.cfg.FIFODir, "crashed-3", "x"), 0o700); err != nil {
		t.Fatal(err)
	}

	owns := func(id string) bool { return id == "crashed-1" || id == "crashed-2" || id == "crashed-3" }
	if err := e.sb.Cleanup(context.Background(), owns); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}

	ctrs, err := e.sb.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range ctrs {
		ids = append(ids, c.ID())
	}
	if fmt.Sprint(ids) != "[crashed-10 other-1]" {
		t.Errorf("containers after Cleanup = %v, want [crashed-10 other-1]", ids)
	}
	entries, _ := os.ReadDir(e.cfg.FIFODir)
	var dirs []string
	for _, d := range entries {
		dirs = append(dirs, d.Name())
	}
	if fmt.Sprint(dirs) != "[crashed-10 other-1]" {
		t.Errorf("FIFO dirs after Cleanup = %v, want [crashed-10 other-1]", dirs)
	}

	// The IDs are free again.
	tk := task(t, "/bin/echo", "again")
	tk.ID = "crashed-1"
	if r := e.mustRun(t, tk); r.stdout != "again\n" {
		t.Errorf("rerun of crashed-1: stdout %q", r.stdout)
	}

	if err := e.sb.Cleanup(context.Background(), nil); err != nil {
		t.Fatalf("Cleanup(all): %v", err)
	}
	e.assertEmpty(t)
	if err := e.sb.Cleanup(context.Background(), nil); err != nil {
		t.Errorf("Cleanup of an empty namespace: %v", err)
	}
}

func TestRunValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	valid := Task{
		ID: "job-1", Args: []string{"/bin/true"}, Env: []string{testPath}, Dir: dir,
		WritableDirs: []string{dir}, ReadOnlyDirs: []string{"/usr"}, UID: testUID, GID: testGID,
		Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
	}
	tests := []struct {
		field  string
		mutate func(*Task)
	}{
		{"ID", func(t *Task) { t.ID = "" }},
		{"ID", func(t *Task) { t.ID = "job/1" }},
		{"ID", func(t *Task) { t.ID = "-job" }},
		{"ID", func(t *Task) { t.ID = strings.Repeat("a", 65) }},
		{"Args", func(t *Task) { t.Args = nil }},
		{"Args[0]", func(t *Task) { t.Args = []string{""} }},
		{"Args[0]", func(t *Task) { t.Args = []string{"bin/true"} }},
		{"Args[0]", func(t *Task) { t.Args = []string{"true"}; t.Env = nil }},
		{"Env[1]", func(t *Task) { t.Env = append(t.Env, "NOVALUE") }},
		{"Dir", func(t *Task) { t.Dir = "" }},
		{"Dir", func(t *Task) { t.Dir = "work" }},
		{"WritableDirs[0]", func(t *Task) { t.WritableDirs = []string{"work"} }},
		{"WritableDirs[0]", func(t *Task) { t.WritableDirs = []string{"/"} }},
		{"WritableDirs[1]", func(t *Task) { t.WritableDirs = []string{dir, filepath.Join(dir, "missing")} }},
		{"WritableDirs[0]", func(t *Task) { t.WritableDirs = []string{dir + "/../x"} }},
		{"ReadOnlyDirs[0]", func(t *Task) { t.ReadOnlyDirs = []string{"usr"} }},
		{"ReadOnlyDirs[1]", func(t *Task) { t.ReadOnlyDirs = []string{"/usr", "/nonexistent-ejecta"} }},
		{"UID", func(t *Task) { t.UID = 0 }},
		{"UID", func(t *Task) { t.GID = 0 }},
		{"UID", func(t *Task) { t.UID = 1 << 31 }},
		{"MemoryBytes", func(t *Task) { t.MemoryBytes = -1 }},
		{"PidsLimit", func(t *Task) { t.PidsLimit = -1 }},
		{"TmpBytes", func(t *Task) { t.TmpBytes = -1 }},
		{"CPUs", func(t *Task) { t.CPUs = "zero" }},
		{"Stdout", func(t *Task) { t.Stdout = nil }},
		{"Stderr", func(t *Task) { t.Stderr = nil }},
	}
	// No client: touching containerd would panic.
	var sb Containerd
	for _, tt := range tests {
		tk := valid
		tk.Args = append([]string(nil), valid.Args...)
		tk.Env = append([]string(nil), valid.Env...)
		tt.mutate(&tk)
		_, err := sb.Run(context.Background(), tk)
		if !errors.Is(err, ErrInvalidTask) || !strings.Contains(err.Error(), tt.field+" ") {
			t.Errorf("%s: err = %v, want ErrInvalidTask naming %s", tt.field, err, tt.field)
		}
	}
	if err := valid.validate(); err != nil {
		t.Errorf("valid task: %v", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	t.Parallel()
	addr := filepath.Join(t.TempDir(), "nobody.sock")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := New(ctx, Config{Address: addr, FIFODir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("err = %v, want it to name %s", err, addr)
	}
}

// leaveStarted creates and starts tk's container and task as Run would,
// and leaves them as a builder killed mid-run does: nobody waits for the
// task or reads its FIFOs (under fifoDir).
func leaveStarted(t *testing.T, ctx context.Context, sb *Containerd, fifoDir string, tk Task) {
	t.Helper()
	ctr, err := sb.client.NewContainer(ctx, tk.ID, sb.containerOpts(tk, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.NewTask(ctx, cio.NewCreator(cio.WithFIFODir(filepath.Join(fifoDir, tk.ID))))
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
}
