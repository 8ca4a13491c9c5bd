// Command ejecta is the build farm's single binary: `ejecta up` runs every
// component on an embedded NATS server; `ejecta builder|uploader|reporter`
// run one component against a NATS cluster; `ejecta experiment ...` and
// `ejecta report` are the operator's commands.
//
// Exit codes: 0 success; 1 failure (a server unreachable, a component
// stopped with an error); 2 bad usage or invalid input (an unknown command,
// a bad or missing flag, an unknown mode, an unknown experiment or crate, a
// name already taken).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "ejecta:", err)
	os.Exit(exitCode(err))
}

// exitCode is the process's exit code for an error ExecuteContext returned.
// Errors a command's own code returns are failures (1) unless they say the
// input was bad; every other error comes from cobra refusing the command
// line before any command ran (an unknown command or flag, a missing
// required flag, wrong arguments), so it is bad input too.
func exitCode(err error) int {
	var ue usageError
	var rf runFailure
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &rf):
		return 1
	}
	return 2
}

// usageError marks an error caused by what the user typed (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badInput(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// runFailure marks an error a command's own code returned that is not bad
// input (exit code 1).
type runFailure struct{ err error }

func (e runFailure) Error() string { return e.err.Error() }
func (e runFailure) Unwrap() error { return e.err }

// failure marks err as a run's failure unless it is bad input.
func failure(err error) error {
	var ue usageError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	return runFailure{err}
}
