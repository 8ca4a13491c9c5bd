package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/containerd/containerd/namespaces"
)

// Session runs a sequence of tasks, such as the steps of one build
// attempt, one after another, as processes exec'd into one container
// wherever the tasks agree on what a container fixes at its creation (see
// fits), instead of a container each: a step then costs a process, not a
// sandbox. Tasks that disagree get a fresh container, which later tasks
// like them share in turn. Two kinds always get a container of their own,
// through Containerd.Run:
//
//   - a task with the network: the one step that has it runs no crate
//     code, and a container with the network must never run any;
//   - any task on an image root: an image need not hold the long-lived
//     program (sleep) the shared container relies on.
//
// Each exec'd process gets the init's process spec with its own argv,
// environment and working directory: the same user, capabilities,
// no_new_privs and rlimits; seccomp, the namespaces, the cgroup and the
// mounts are the container's. Nothing a task started outlives it: a task
// whose process exited leaving others running takes the container with
// them, killed from outside before Run returns, and the next task starts
// a new one; its exit stands. Files are another matter: what a task leaves
// in the container's private /tmp the tasks after it in the same container
// see, and it counts against their memory limit, as it would in one task
// running them all (one attempt's steps are one crate's build). A task
// killed because its ctx ended takes the whole container with it too.
//
// A Session is used by one goroutine at a time. Close it when done.
type Session struct {
	c   *Containerd
	mu  sync.Mutex
	box *box // the container fitting tasks are exec'd into; nil: none yet
}

// Session starts a session on c. It holds nothing until its first Run.
func (c *Containerd) Session() *Session { return &Session{c: c} }

// Run runs t to completion as Containerd.Run does: a non-zero exit is not
// an error; err is non-nil only when t is invalid, the sandbox failed, or
// ctx ended, in which case the task is killed. All of its output has been
// written to t.Stdout and t.Stderr when Run returns. t.ID names its
// process, and the container if it starts one.
func (s *Session) Run(ctx context.Context, t Task) (exit Exit, err error) {
	if err := t.validate(); err != nil {
		return Exit{}, err
	}
	if t.Network || s.c.image != nil {
		return s.c.Run(ctx, t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var steps Steps
	lap := stopwatch()
	defer func() { exit.Steps = steps }()
	ctx = namespaces.WithNamespace(ctx, s.c.namespace)
	// keep outlives ctx: a killed task's container must still be removed.
	keep := context.WithoutCancel(ctx)

	if s.box != nil && !s.box.fits(t) {
		err := s.box.close(keep)
		s.box = nil
		steps.Teardown = lap()
		if err != nil {
			return Exit{}, fmt.Errorf("sandbox: task %s: end the container before it: %w", t.ID, err)
		}
	}
	if s.box == nil {
		b, err := s.c.startBox(ctx, keep, t, &steps, lap)
		if err != nil {
			return Exit{}, err
		}
		s.box = b
	}
	exit, spent, err := s.box.exec(ctx, keep, t, &steps, lap)
	if spent {
		if cerr := s.box.close(keep); cerr != nil {
			err = errors.Join(err, fmt.Errorf("sandbox: task %s: %w", t.ID, cerr))
		}
		s.box = nil
		steps.Teardown += lap()
	}
	return exit, err
}

// Close removes the session's container, if it has one, with a context of
// its own: it runs when the session's work is over, cancelled or not.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.box == nil {
		return nil
	}
	err := s.box.close(namespaces.WithNamespace(context.Background(), s.c.namespace))
	s.box = nil
	if err != nil {
		return fmt.Errorf("sandbox: session: %w", err)
	}
	return nil
}

// fits reports whether t may run in b's container: whether it agrees with
// the task that made it on all that a container fixes when it is created,
// its mounts (and the covers worked out from them), user, limits and
// network. Args, Env, Dir and the output are the process's own.
func (b *box) fits(t Task) bool {
	m := b.made
	return slices.Equal(m.WritableDirs, t.WritableDirs) && slices.Equal(m.ReadOnlyDirs, t.ReadOnlyDirs) &&
		m.UID == t.UID && m.GID == t.GID && m.MemoryBytes == t.MemoryBytes && m.CPUs == t.CPUs &&
		m.PidsLimit == t.PidsLimit && m.tmpBytes() == t.tmpBytes() && m.Network == t.Network
}

// removeAll removes a container's FIFO directory, the exec'd processes'
// FIFOs and the covers with it.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", filepath.Base(dir), err)
	}
	return nil
}
