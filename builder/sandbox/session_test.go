package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runIn runs tk in s as e.run does.
func runIn(ctx context.Context, s *Session, tk Task) result {
	var stdout, stderr bytes.Buffer
	tk.Stdout, tk.Stderr = &stdout, &stderr
	exit, err := s.Run(ctx, tk)
	steps := exit.Steps
	exit.Steps = Steps{}
	return result{exit, steps, stdout.String(), stderr.String(), err}
}

// mustRunIn runs tk in s and fails t on a sandbox error.
func mustRunIn(t *testing.T, s *Session, tk Task) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := runIn(ctx, s, tk)
	if r.err != nil {
		t.Fatalf("Session.Run(%q): %v\nstdout: %s\nstderr: %s", tk.Args, r.err, r.stdout, r.stderr)
	}
	return r
}

// then is a task with tk's settings running args: the next step of an
// attempt, exec'd into tk's container.
func then(tk Task, args ...string) Task {
	tk.ID = task0ID()
	tk.Args = args
	return tk
}

func task0ID() string { return fmt.Sprintf("job-%d", taskSeq.Add(1)) }

// runWays are the two ways a task runs: as its container's first
// process (Containerd.Run), and exec'd into a running container
// (Session). Hardening must hold for both.
var runWays = []struct {
	name string
	run  func(e *env, t *testing.T, tk Task) result
}{
	{"task", (*env).mustRun},
	{"exec", (*env).mustRunExecd},
}

// mustRunExecd runs tk as a process exec'd into a container that a first
// task with the same settings started, as an attempt's later steps run.
func (e *env) mustRunExecd(t *testing.T, tk Task) result {
	t.Helper()
	s := e.sb.Session()
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	first := tk
	first.ID += "-first"
	first.Args = []string{"/bin/true"}
	mustRunIn(t, s, first)
	r := mustRunIn(t, s, tk)
	if r.steps.Create != 0 || r.steps.NewTask != 0 {
		t.Errorf("the second task started a container: %+v", r.steps)
	}
	return r
}

// The steps of a session share one container: one pid namespace whose
// init idles, each step's own output, exit code and working directory.
func TestSessionStepsShareOneContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	first := task(t, "/bin/sh", "-c", "readlink /proc/self/ns/pid; printf err >&2; exit 3")
	steps := []struct {
		args           []string
		code           int
		stdout, stderr string // "" stdout: the pid namespace, as the first step saw it
	}{
		{first.Args, 3, "", "err"},
		{[]string{"/bin/sh", "-c", "readlink /proc/self/ns/pid"}, 0, "", ""},
		{[]string{"/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, 0, strings.Join(initArgs, " ") + " ", ""},
		{[]string{"/bin/sh", "-c", "pwd; exit 101"}, 101, first.Dir + "\n", ""},
		{[]string{"/bin/sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x; printf tail >&2"}, 0, strings.Repeat("x", 3000000), "tail"},
		{[]string{"printf", "%s-%s", "a", "b"}, 0, "a-b", ""},
	}
	var pidNS string
	for i, st := range steps {
		tk := first
		tk.ID = first.ID + "-" + string(rune('a'+i))
		tk.Args = st.args
		r := mustRunIn(t, s, tk)
		if i == 0 {
			pidNS = r.stdout
			if r.steps.Create == 0 || r.steps.NewTask == 0 {
				t.Errorf("first step: %+v, want a container started", r.steps)
			}
		} else if r.steps.Create != 0 || r.steps.NewTask != 0 {
			t.Errorf("step %d started a container: %+v", i, r.steps)
		}
		want := st.stdout
		if want == "" {
			want = pidNS
		}
		if r.exit != (Exit{Code: st.code}) || r.stdout != want || r.stderr != st.stderr {
			t.Errorf("step %d %q: exit %+v, stdout %.80q (%d bytes), stderr %q; want code %d, %.80q (%d bytes), %q",
				i, st.args, r.exit, r.stdout, len(r.stdout), r.stderr, st.code, want, len(want), st.stderr)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertEmpty(t)
}

// A process a step leaves running is gone before the next step starts,
// even one holding the step's output open, and the step still ends at
// once.
func TestSessionLeftoversKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	defer s.Close()
	tk := task(t, "/bin/sh", "-c", `sleep 1000 & (sleep 1000 >/dev/null 2>&1 &); sh -c 'while :; do sleep 1; done' & echo started`)
	start := time.Now()
	r := mustRunIn(t, s, tk)
	if took := time.Since(start); r.exit.Code != 0 || r.stdout != "started\n" || took > 5*time.Second {
		t.Fatalf("step leaving processes: exit %+v, stdout %q, stderr %q, after %s", r.exit, r.stdout, r.stderr, took)
	}
	// Every process the next step sees: the init and itself, in a new
	// container.
	r = mustRunIn(t, s, then(tk, "/bin/sh", "-c", listProcesses))
	if n := strings.Count(r.stdout, "\n"); r.exit.Code != 0 || n != 2 || running(r.stdout) != 2 || !strings.HasPrefix(r.stdout, "1 S (sleep)") || r.steps.Create == 0 {
		t.Errorf("the next step sees processes:\n%s\n(exit %d, stderr %q, %+v), want the init and itself in a new container", r.stdout, r.exit.Code, r.stderr, r.steps)
	}
}

// A step whose leftovers fill the pids limit, so that nothing more can
// start in its container, still ends with its own exit, not a sandbox
// error; the next step runs in a new container.
func TestSessionLeftoversFillPidsLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	defer s.Close()
	tk := task(t, "/bin/true")
	tk.PidsLimit = 32
	mustRunIn(t, s, tk)
	// The subshell forks sleeps until refused; only its parent is left
	// to exit, freeing one pid.
	r := mustRunIn(t, s, then(tk, "/bin/sh", "-c", `(while :; do sleep 1000 & done) 2>/dev/null; echo full; exit 3`))
	if r.exit != (Exit{Code: 3}) || r.stdout != "full\n" {
		t.Fatalf("step filling the pids limit: %+v, stdout %q, stderr %q", r.exit, r.stdout, r.stderr)
	}
	r = mustRunIn(t, s, then(tk, "/bin/sh", "-c", listProcesses))
	if n := strings.Count(r.stdout, "\n"); r.exit.Code != 0 || n != 2 || r.steps.Create == 0 {
		t.Errorf("after the pids limit filled: exit %+v, processes\n%s%+v; want the init and itself in a new container", r.exit, r.stdout, r.steps)
	}
}

// listProcesses prints the pid, state and name of every process the
// shell sees, itself included, and forks none.
const listProcesses = `for p in /proc/[0-9]*; do read -r l < $p/stat; set -- $l; echo "$1 $3 $2"; done`

// running counts the processes in listProcesses's output that are not
// zombies. The killed processes a step left are reparented to the init,
// which does not reap them.
func running(ps string) int {
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(ps), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] != "Z" {
			n++
		}
	}
	return n
}

// A step killed because its context ended takes its container with it,
// and the session's next step runs in a new one.
func TestSessionStepKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	tk := task(t, "/bin/sh", "-c", "sleep 1000 & echo started; sleep 1000")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	r := runIn(ctx, s, tk)
	if !errors.Is(r.err, context.DeadlineExceeded) || r.stdout != "started\n" || time.Since(start) > 10*time.Second {
		t.Fatalf("killed step: %+v, %v, stdout %q, after %s", r.exit, r.err, r.stdout, time.Since(start))
	}
	r = mustRunIn(t, s, then(tk, "/bin/sh", "-c", listProcesses))
	if n := strings.Count(r.stdout, "\n"); r.exit.Code != 0 || n != 2 || running(r.stdout) != 2 || r.steps.Create == 0 {
		t.Errorf("after a killed step: exit %+v, processes\n%s%+v; want the init and itself in a new container", r.exit, r.stdout, r.steps)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertEmpty(t)
}

// The container's memory cgroup is every step's: an OOM kill is told for
// the step it happened in only.
func TestSessionOOMPerStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	defer s.Close()
	tk := task(t, "/bin/true")
	tk.MemoryBytes = 64 << 20
	h := helperBinary(t, tk.Dir)
	tk.Env = append(tk.Env, helperEnv+"=alloc", "H="+h)
	for i, st := range []struct {
		script string
		want   Exit
	}{
		{`exec "$H" 16`, Exit{}},
		{`exec "$H" 256`, Exit{Code: 137, OOMKilled: true}},
		{`"$H" 256; echo "child exit $?"`, Exit{OOMKilled: true}},
		{`exec "$H" 16`, Exit{}},
		{`sh -c 'kill -KILL $$'; exit $?`, Exit{Code: 137}},
	} {
		r := mustRunIn(t, s, then(tk, "/bin/sh", "-c", st.script))
		if r.exit != st.want {
			t.Errorf("step %d %s: %+v, want %+v (stdout %q, stderr %q)", i, st.script, r.exit, st.want, r.stdout, r.stderr)
		}
	}
}

// A container whose init is killed under a running step fails the step
// as a sandbox error, not with the exit the kill gave it.
func TestSessionInitKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	defer s.Close()
	tk := task(t, "/bin/true")
	mustRunIn(t, s, tk)
	pid := int(s.box.task.Pid())
	go func() {
		time.Sleep(500 * time.Millisecond)
		syscall.Kill(pid, syscall.SIGKILL)
	}()
	r := runIn(context.Background(), s, then(tk, "/bin/sleep", "30"))
	if r.err == nil || errors.Is(r.err, context.Canceled) {
		t.Fatalf("step under a killed init: %+v, %v; want a sandbox error", r.exit, r.err)
	}
	t.Logf("step under a killed init: %v", r.err)
	r = mustRunIn(t, s, then(tk, "/bin/sh", "-c", "echo ok"))
	if r.stdout != "ok\n" || r.steps.Create == 0 {
		t.Errorf("after: %q, %+v; want ok in a new container", r.stdout, r.steps)
	}
}

// A task that needs other mounts than the container has gets a new
// container; a task with the network one of its own, which no other task
// ever shares.
func TestSessionSettingsDiffer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	// Whether the task ran in a container of its own, and whether it met
	// the file the tasks before it left in the container's private /tmp.
	run := func(tk Task) (started, met bool) {
		t.Helper()
		tk.Args = []string{"/bin/sh", "-c", "test -e /tmp/mark; echo $?; touch /tmp/mark"}
		r := mustRunIn(t, s, tk)
		if r.exit.Code != 0 {
			t.Fatalf("%+v %s", r.exit, r.stderr)
		}
		return r.steps.Create != 0, r.stdout == "0\n"
	}
	a := task(t, "/bin/true")
	b := task(t, "/bin/true") // another writable dir
	net := then(a)
	net.Network = true
	for i, st := range []struct {
		name         string
		tk           Task
		started, met bool
	}{
		{"first", a, true, false},
		{"with the network", net, true, false},
		{"like the first", then(a), false, true},
		{"other writable dirs", b, true, false},
		{"like that one", then(b), false, true},
		{"like the first again", then(a), true, false},
	} {
		if started, met := run(st.tk); started != st.started || met != st.met {
			t.Errorf("task %d, %s: a new container %v, met the one before %v; want %v, %v", i, st.name, started, met, st.started, st.met)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e.assertEmpty(t)
}

// The init of a shared container is out of its tasks' reach: they run as
// its user, but cannot read its memory or environment, trace it, nor
// kill it.
func TestSessionInitOutOfReach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.sb.Session()
	defer s.Close()
	tk := task(t, "/bin/true")
	mustRunIn(t, s, tk)
	script := `
		! cat /proc/1/environ 2>/dev/null || exit 1
		! head -c1 /proc/1/mem 2>/dev/null || exit 2
		! cat ` + initArgs[0] + ` >/dev/null 2>&1 || exit 3
		if command -v strace >/dev/null; then ! timeout 2 strace -p 1 2>/dev/null || exit 4; fi
		kill -KILL 1 2>/dev/null
		exit 0`
	r := mustRunIn(t, s, then(tk, "/bin/sh", "-c", script))
	if r.exit.Code != 0 {
		t.Errorf("a task reached the init: exit %d, stderr %q", r.exit.Code, r.stderr)
	}
	r = mustRunIn(t, s, then(tk, "/bin/sh", "-c", "echo alive"))
	if r.stdout != "alive\n" || r.steps.Create != 0 {
		t.Errorf("after a task tried to kill the init: %q, %+v; want its container still running", r.stdout, r.steps)
	}
}

// ready publishes the run's own event until the subscription delivers
// it, and says why it gave up otherwise.
func TestWatchReady(t *testing.T) {
	tests := []struct {
		name    string
		deliver int   // the publish whose event the subscription delivers (0: none)
		failAt  int   // the publish that fails (0: none)
		end     error // the subscription ends with this instead
		want    string
	}{
		{"first publish delivered", 1, 0, nil, ""},
		{"subscription late", 4, 0, nil, ""},
		{"publish fails", 0, 2, nil, "publish /ejecta/sandbox/subscribed: refused"},
		{"subscription ends", 0, 0, errors.New("closed"), "event subscription: closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &watch{live: make(chan struct{}), done: make(chan struct{})}
			if tt.end != nil {
				w.err = tt.end
				close(w.done)
			}
			n := 0
			w.publish = func(context.Context) error {
				n++
				if n == tt.failAt {
					return errors.New("refused")
				}
				if n == tt.deliver {
					go closeOnce(w.live)
				}
				return nil
			}
			err := w.ready(context.Background())
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Fatalf("ready: %v, want %q", err, tt.want)
			}
			if tt.deliver > 0 && n != tt.deliver {
				t.Errorf("published %d times, want %d", n, tt.deliver)
			}
		})
	}
}
