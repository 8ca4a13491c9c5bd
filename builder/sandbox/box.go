package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The init of a shared container only keeps the container (its
// namespaces and cgroup) alive between tasks: the host's sleep, run as
// the tasks' user. It is pid 1 of the container's pid namespace, which a
// task cannot signal from inside. It runs from a copy the user may
// execute but not read, at initDir: the kernel makes such a process
// non-dumpable, so a task cannot ptrace it either (nor read its /proc
// files), and it cannot be made to run a task's code into the next task.
// A task that leaves processes behind ends its container (exec): builds
// rarely leave any.
const (
	initProgram = "/bin/sleep"
	initDir     = "/run/ejecta-init"
)

// initArgs is the init's argv in the container.
var initArgs = []string{initDir + "/sleep", "infinity"}

// A box is one running container whose init idles, tasks exec'd into it
// one at a time (Session).
type box struct {
	id      string // the container's, after the task that made it
	made    Task   // the task it was made for, whose settings it has (fits)
	ctr     containerd.Container
	task    containerd.Task // the init's
	proc    *specs.Process  // the init's process spec, which each exec'd process copies
	w       *watch          // the container's events
	fifoDir string          // the exec'd processes' FIFOs, and the covers
	ended   chan struct{}   // closed when the init has exited
}

// startBox creates a container with t's settings whose init idles. Its
// steps' timings go into steps. On failure nothing of it is left.
func (c *Containerd) startBox(ctx, keep context.Context, t Task, steps *Steps, lap func() time.Duration) (_ *box, err error) {
	b := &box{id: t.ID, made: t, w: c.watchEvents(keep, t.ID), fifoDir: filepath.Join(c.fifoDir, t.ID), ended: make(chan struct{})}
	b.made.Stdout, b.made.Stderr = nil, nil // the first task's, not the box's
	defer func() {
		if err != nil {
			err = stepError(ctx, t.ID, "start container", err)
			if cerr := b.close(keep); cerr != nil {
				err = errors.Join(err, fmt.Errorf("sandbox: task %s: %w", t.ID, cerr))
			}
		}
	}()
	covers, err := c.covers(t, filepath.Join(b.fifoDir, "cover"))
	if err != nil {
		return nil, fmt.Errorf("hide host paths: %w", err)
	}
	dir := filepath.Join(b.fifoDir, "init")
	if err := c.copyInit(dir); err != nil {
		return nil, fmt.Errorf("init program: %w", err)
	}
	init := t
	init.Args = initArgs
	spec := containerd.WithNewSpec(append(specOpts(init, false, covers, c.cgroups), withInitDir(dir))...)
	if err := b.w.ready(ctx); err != nil {
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	if b.ctr, err = c.client.NewContainer(ctx, t.ID, spec); err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	made, err := b.ctr.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	b.proc = made.Process
	steps.Create = lap()

	if b.task, err = b.ctr.NewTask(ctx, cio.NullIO); err != nil {
		return nil, fmt.Errorf("new task: %w", err)
	}
	if c.tcp == tcpLimitWritten && t.MemoryBytes > 0 {
		if err := limitTCP(b.task.Pid(), t.MemoryBytes); err != nil {
			return nil, fmt.Errorf("limit TCP buffers: %w", err)
		}
	}
	statusC, err := b.task.Wait(keep)
	if err != nil {
		return nil, fmt.Errorf("wait for init: %w", err)
	}
	go func() {
		<-statusC
		close(b.ended)
	}()
	if err := b.task.Start(ctx); err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	steps.NewTask = lap()
	return b, nil
}

// copyInit copies the host's initProgram into dir (made), executable by
// all and readable by none but root, for withInitDir to bind at initDir.
func (c *Containerd) copyInit(dir string) error {
	if err := mkdirSearchable(dir, "."); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(c.hostRoot, initProgram))
	if err != nil {
		return err
	}
	path := filepath.Join(dir, filepath.Base(initArgs[0]))
	if err := os.WriteFile(path, data, 0o700); err != nil {
		return err
	}
	return os.Chmod(path, 0o711)
}

// withInitDir binds dir, the init's copy, read-only at initDir, a mount
// point runc makes in the container's own /run.
func withInitDir(dir string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: initDir, Type: "bind", Source: dir,
			Options: []string{"rbind", "ro", "nosuid", "nodev"}})
		return nil
	}
}

// exec runs t as a process of the container and waits for it, then for
// every process it left to be killed. spent means the container must not
// run another task: t was killed (ctx ended) and the container with it,
// or the sandbox failed, in which case err says how and the exit, if
// any, says nothing about t.
func (b *box) exec(ctx, keep context.Context, t Task, steps *Steps, lap func() time.Duration) (exit Exit, spent bool, err error) {
	fail := func(step string, err error) (Exit, bool, error) {
		return Exit{}, true, stepError(ctx, t.ID, step, err)
	}
	oomsBefore := b.w.ooms.Load()
	spec := *b.proc
	spec.Args, spec.Env, spec.Cwd = t.Args, t.Env, t.Dir
	proc, err := b.task.Exec(ctx, t.ID, &spec, cio.NewCreator(cio.WithStreams(nil, t.Stdout, t.Stderr), cio.WithFIFODir(b.fifoDir)))
	if err != nil {
		return fail("exec", err)
	}
	// Every way out below deletes the process, which ends its output copy.
	statusC, err := proc.Wait(keep)
	if err != nil {
		deleteProcess(keep, proc)
		return fail("wait for process", err)
	}
	if err := proc.Start(ctx); err != nil {
		deleteProcess(keep, proc)
		return fail("start process", err)
	}
	steps.Start = lap()

	var status containerd.ExitStatus
	select {
	case status = <-statusC:
	case <-ctx.Done():
		select {
		case status = <-statusC: // it had exited anyway: not cancelled
		default:
			status, err = b.killAll(keep, statusC)
			steps.Ran = lap()
			deleteProcess(keep, proc)
			if err != nil {
				return fail("kill task", err)
			}
			code, _, _ := status.Result()
			killed := Exit{Code: int(code), OOMKilled: b.w.oomsSince(oomsBefore, t.ID)}
			return killed, true, fmt.Errorf("sandbox: task %s killed: %w", t.ID, ctx.Err())
		}
	}
	steps.Ran = lap()
	code, _, err := status.Result()
	if err != nil {
		_, _ = b.killAll(keep, nil)
		deleteProcess(keep, proc)
		return fail("wait for process", err)
	}
	// Before the output can end: what the task left running holds its
	// pipes open. And the next task must meet none of it.
	left, err := b.leftovers(keep)
	if err != nil {
		_, _ = b.killAll(keep, nil)
		deleteProcess(keep, proc)
		return fail("look for what the task left running", err)
	}
	spent = left > 0
	if spent {
		// Killed from outside, with the container: from inside, a kill
		// needs a process exec'd into a container whose pids limit the
		// leftovers may fill (a fork bomb's do), and the killed would stay
		// zombies of an init that does not reap them, filling it for the
		// steps after. The task had exited on its own: its exit stands.
		if _, err := b.killAll(keep, nil); err != nil {
			deleteProcess(keep, proc)
			return fail(fmt.Sprintf("kill the %d processes the task left running", left), err)
		}
	}
	if err := deleteProcess(keep, proc); err != nil {
		return fail("delete process", err)
	}
	steps.Teardown = lap()
	return Exit{Code: int(code), OOMKilled: b.w.oomsSince(oomsBefore, t.ID)}, spent, nil
}

// errInitEnded says that a container's init is gone, and with it every
// process in the container: what they did was cut short by the sandbox.
var errInitEnded = errors.New("the container's init ended")

// leftovers counts the container's processes other than its init, which
// must be among them. The list is the cgroup's, which holds no zombie: a
// dead init is missing from it at once, and by the time the kernel kills
// the rest of its pid namespace.
func (b *box) leftovers(ctx context.Context) (int, error) {
	select {
	case <-b.ended:
		return 0, errInitEnded
	default:
	}
	ps, err := b.task.Pids(ctx)
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	n, init := 0, false
	for _, p := range ps {
		if p.Pid == b.task.Pid() {
			init = true
		} else {
			n++
		}
	}
	if !init {
		return 0, errInitEnded
	}
	return n, nil
}

// killAll kills every process of the container, the init included, and
// waits for the one statusC reports on (if any) and for the init to exit.
func (b *box) killAll(ctx context.Context, statusC <-chan containerd.ExitStatus) (containerd.ExitStatus, error) {
	if err := b.task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return containerd.ExitStatus{}, err
	}
	timeout := time.After(killTimeout)
	var status containerd.ExitStatus
	if statusC != nil {
		select {
		case status = <-statusC:
		case <-timeout:
			return status, fmt.Errorf("process still running %s after SIGKILL", killTimeout)
		}
	}
	select {
	case <-b.ended:
		return status, nil
	case <-timeout:
		return status, fmt.Errorf("init still running %s after SIGKILL", killTimeout)
	}
}

// deleteProcess deletes an exec'd process that has exited (or never
// started) once the copy of its output has ended: no goroutine writes to
// its writers once deleteProcess has returned.
func deleteProcess(ctx context.Context, proc containerd.Process) error {
	finishIO(proc.IO())
	ctx, cancel := context.WithTimeout(ctx, teardownTimeout)
	defer cancel()
	if _, err := proc.Delete(ctx); err != nil && !isGone(err) {
		return err
	}
	return nil
}

// close kills and deletes the container with whatever still runs in it,
// and removes its FIFOs; b is done with. It goes on past failures.
func (b *box) close(ctx context.Context) error {
	var errs []error
	if b.task != nil {
		if err := deleteTask(ctx, b.task); err != nil {
			errs = append(errs, err)
		}
	}
	if b.ctr != nil {
		if err := deleteContainer(ctx, b.ctr); err != nil {
			errs = append(errs, err)
		}
	}
	b.w.stop()
	if err := removeAll(b.fifoDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
