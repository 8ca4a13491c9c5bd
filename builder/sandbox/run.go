package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/errdefs"
)

const (
	// killTimeout bounds the wait for a task to die after SIGKILL; only a
	// wedged shim or kernel takes that long.
	killTimeout = 30 * time.Second
	// teardownTimeout bounds deleting a task or container.
	teardownTimeout = 30 * time.Second
	// ioTimeout bounds the wait for the output copy once the task is gone.
	// The shim closes the FIFOs when the last process in the container
	// exits, so it only passes when something is badly wrong.
	ioTimeout = 10 * time.Second
)

// Run runs t in a new container and waits for it to exit. A non-zero exit
// is not an error: err is non-nil only when t is invalid, the sandbox
// failed, or ctx ended, in which case the task is killed and Exit says how
// it ended. The container is always deleted before Run returns, and all of
// its output has been written to t.Stdout and t.Stderr.
func (c *Containerd) Run(ctx context.Context, t Task) (exit Exit, err error) {
	if err := t.validate(); err != nil {
		return Exit{}, err
	}
	// steps collects the timings; the deferred teardown adds its own and
	// copies them into exit, whichever way Run returns.
	var steps Steps
	lap := stopwatch()
	ctx = namespaces.WithNamespace(ctx, c.namespace)
	// keep outlives ctx: when the caller gives up, the task must still be
	// killed, waited for and deleted.
	keep := context.WithoutCancel(ctx)
	fail := func(step string, err error) (Exit, error) {
		return Exit{}, stepError(ctx, t.ID, step, err)
	}
	// Deferred first, so it runs after both deletions.
	defer func() {
		steps.Teardown = lap()
		exit.Steps = steps
	}()

	w := c.watchEvents(keep, t.ID)
	defer w.stop()

	// The task's FIFOs and the covers of its hidden paths.
	fifoDir := filepath.Join(c.fifoDir, t.ID)
	defer os.RemoveAll(fifoDir)
	covers, err := c.covers(t, filepath.Join(fifoDir, "cover"))
	if err != nil {
		return fail("hide host paths", err)
	}
	if err := w.ready(ctx); err != nil {
		return fail("subscribe to events", err)
	}
	ctr, err := c.client.NewContainer(ctx, t.ID, c.containerOpts(t, covers)...)
	if err != nil {
		return fail("create container", err)
	}
	defer func() {
		if derr := deleteContainer(keep, ctr); derr != nil {
			err = errors.Join(err, fmt.Errorf("sandbox: task %s: %w", t.ID, derr))
		}
	}()
	steps.Create = lap()

	task, err := ctr.NewTask(ctx, cio.NewCreator(
		cio.WithStreams(nil, t.Stdout, t.Stderr),
		cio.WithFIFODir(fifoDir),
	))
	if err != nil {
		return fail("new task", err)
	}
	defer func() {
		if derr := deleteTask(keep, task); derr != nil {
			err = errors.Join(err, fmt.Errorf("sandbox: task %s: %w", t.ID, derr))
		}
	}()
	// Before Start: a socket is charged to the cgroup it was made in
	// only if the limit was there first (tcpmem.go).
	if c.tcp == tcpLimitWritten && t.MemoryBytes > 0 {
		if err := limitTCP(task.Pid(), t.MemoryBytes); err != nil {
			return fail("limit TCP buffers", err)
		}
	}
	steps.NewTask = lap()

	// Wait before Start, or a quick task could exit unobserved.
	statusC, err := task.Wait(keep)
	if err != nil {
		return fail("wait for task", err)
	}
	if err := task.Start(ctx); err != nil {
		return fail("start task", err)
	}
	steps.Start = lap()

	var status containerd.ExitStatus
	select {
	case status = <-statusC:
	case <-ctx.Done():
		select {
		case status = <-statusC: // it had exited anyway: not cancelled
		default:
			status, err = killTask(keep, task, statusC)
			steps.Ran = lap()
			if err != nil {
				return fail("kill task", err)
			}
			code, _, _ := status.Result()
			killed := Exit{Code: int(code), OOMKilled: w.oomKilled()}
			return killed, fmt.Errorf("sandbox: task %s killed: %w", t.ID, ctx.Err())
		}
	}
	steps.Ran = lap()
	code, _, err := status.Result()
	if err != nil {
		return fail("wait for task", err)
	}
	return Exit{Code: int(code), OOMKilled: w.oomKilled()}, nil
}

// stopwatch returns a function that returns the time since it was last
// called, or since stopwatch was.
func stopwatch() func() time.Duration {
	last := time.Now()
	return func() time.Duration {
		now := time.Now()
		d := now.Sub(last)
		last = now
		return d
	}
}

// killTask kills every process of the task's container and waits for the
// task to exit.
func killTask(ctx context.Context, task containerd.Task, statusC <-chan containerd.ExitStatus) (containerd.ExitStatus, error) {
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return containerd.ExitStatus{}, err
	}
	select {
	case status := <-statusC:
		return status, nil
	case <-time.After(killTimeout):
		return containerd.ExitStatus{}, fmt.Errorf("task still running %s after SIGKILL", killTimeout)
	}
}

// deleteTask deletes an exited (or, after a failed start, created) task and
// makes sure the copy of its output has finished.
func deleteTask(ctx context.Context, task containerd.Task) error {
	ctx, cancel := context.WithTimeout(ctx, teardownTimeout)
	defer cancel()
	for tries := 1; ; tries++ {
		// On success Delete has waited for the output and closed the FIFOs.
		_, err := task.Delete(ctx, containerd.WithProcessKill)
		if err == nil {
			return nil
		}
		if tries < deleteTries && stillRunning(err) && ctx.Err() == nil {
			// WithProcessKill goes on to the delete without waiting when
			// the shim refuses the kill, as it may for a task a killed
			// builder left between states: kill it again and wait.
			if statusC, werr := task.Wait(ctx); werr == nil {
				if _, kerr := killTask(ctx, task, statusC); kerr == nil {
					continue
				}
			}
		}
		finishIO(task.IO())
		if isGone(err) {
			return nil
		}
		return fmt.Errorf("delete task: %w", err)
	}
}

// deleteTries bounds deleteTask's deletes of a task still running.
const deleteTries = 3

// stillRunning reports whether err is the shim refusing to delete a task
// whose process runs. It comes as an unknown error, told by its text.
func stillRunning(err error) bool {
	return strings.Contains(err.Error(), "cannot delete a running process")
}

// covers makes, under dir, the covers that hide the host's secrets and
// the directories t's user could not pass through on the way to its own
// dirs (see hidden.go). An image holds none of the host's paths: nothing
// to cover there.
func (c *Containerd) covers(t Task, dir string) ([]cover, error) {
	if c.image != nil {
		return nil, nil
	}
	binds := slices.Concat(t.ReadOnlyDirs, t.WritableDirs)
	return makeCovers(dir, hiddenPaths(c.hostRoot, slices.Concat(c.hide, unsearchable(c.hostRoot, binds))), binds)
}

// containerOpts are t's container: its spec and, with an image, its own
// snapshot of the image, keyed by the task ID like the container.
func (c *Containerd) containerOpts(t Task, covers []cover) []containerd.NewContainerOpts {
	if c.image == nil {
		return []containerd.NewContainerOpts{containerd.WithNewSpec(specOpts(t, false, covers, c.cgroups)...)}
	}
	return []containerd.NewContainerOpts{
		containerd.WithSnapshotter(c.snapshotter),
		containerd.WithNewSnapshot(t.ID, c.image),
		containerd.WithNewSpec(specOpts(t, true, covers, c.cgroups)...),
	}
}

// deleteContainer deletes the container record and its snapshot, if it
// has one (the host root has none).
func deleteContainer(ctx context.Context, ctr containerd.Container) error {
	ctx, cancel := context.WithTimeout(ctx, teardownTimeout)
	defer cancel()
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container: %w", err)
	}
	return nil
}

// finishIO waits for the output copy to end, then closes the FIFOs. If the
// copy is stuck it is cut off after ioTimeout; either way no goroutine
// writes to the task's writers once finishIO has returned.
func finishIO(i cio.IO) {
	if i == nil {
		return
	}
	done := make(chan struct{})
	go func() { i.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		i.Cancel()
	}
	i.Close() // closes the pipes, which ends a stuck copy
	<-done
}

// isGone reports whether err means the task (or its shim) no longer exists,
// which is what deleting it was for. A shim that has already exited shows
// up as "ttrpc: closed", passed on by the daemon as text.
func isGone(err error) bool {
	return errdefs.IsNotFound(err) || strings.Contains(err.Error(), "ttrpc: closed")
}

// stepError wraps err with the step that failed. If ctx has ended, the
// failure is most likely its consequence, and ctx.Err() is wrapped too so
// that errors.Is(err, context.Canceled) holds whatever containerd said.
func stepError(ctx context.Context, id, step string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sandbox: task %s: %s: %w: %w", id, step, cerr, err)
	}
	return fmt.Errorf("sandbox: task %s: %s: %w", id, step, err)
}
