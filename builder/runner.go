package builder

import (
	"context"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/sandbox"
)

// Runner runs one task in isolation. *sandbox.Containerd is the real one;
// the interface is here, where it is consumed, so that the builder does not
// care how isolation is done.
type Runner interface {
	// Run runs t to completion. When ctx ends the task is killed and the
	// error wraps ctx.Err(); any other error means the sandbox itself failed.
	Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error)
	// Cleanup removes every task whose ID owns accepts, with whatever it
	// holds (container, snapshot, FIFOs), such as those a crashed builder
	// left running.
	Cleanup(ctx context.Context, owns func(id string) bool) error
}

// sessionRunner is a Runner that can run an attempt's steps in one sandbox,
// each step a process exec'd into it where the steps' settings allow
// (*sandbox.Containerd can: sandbox.Session). It is not part of Runner so
// that a runner which cannot (the tests' fakes) runs each step as a task
// of its own.
type sessionRunner interface {
	Session() *sandbox.Session
}

// The real runner keeps an attempt in one sandbox: were it to stop
// matching, its steps would quietly fall back to a task each.
var _ sessionRunner = (*sandbox.Containerd)(nil)

// attemptRunner is what one attempt's steps run in: a session of the
// runner's, which end closes, or the runner itself.
func (b *Builder) attemptRunner() (run cargo.Runner, end func() error) {
	if r, ok := b.run.(sessionRunner); ok {
		s := r.Session()
		return s, s.Close
	}
	return b.run, func() error { return nil }
}

// rootfsDescriber is a Runner that can say what its tasks see as "/"
// (*sandbox.Containerd can). It is not part of Runner so that a runner
// which cannot tell need not pretend.
type rootfsDescriber interface {
	Rootfs() string
}

// hidden are the host paths the runner hides from builds, if it tells.
func (b *Builder) hidden() []string {
	if d, ok := b.run.(interface{ Hidden() []string }); ok {
		return d.Hidden()
	}
	return nil
}

// hardening says what else isolates builds, if the runner tells.
func (b *Builder) hardening() string {
	if d, ok := b.run.(interface{ Hardening() string }); ok {
		return d.Hardening()
	}
	return "isolation as the runner provides it"
}

// cpuWeight is the CPU weight of every build, if the runner tells; 0 if not.
func (b *Builder) cpuWeight() uint64 {
	if d, ok := b.run.(interface{ CPUWeight() uint64 }); ok {
		return d.CPUWeight()
	}
	return 0
}

// rootfs is what the sandbox line of a build log says about the task's
// root: the runner's own words, or that it did not say.
func (b *Builder) rootfs() string {
	if d, ok := b.run.(rootfsDescriber); ok {
		if s := d.Rootfs(); s != "" {
			return s
		}
	}
	return "root as the runner provides it"
}
