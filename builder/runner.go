package builder

import (
	"context"

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
