// Command ejecta is the build farm's single binary: `ejecta up` runs every
// component on an embedded NATS server; `ejecta builder|uploader|reporter`
// run one component against a NATS cluster; `ejecta experiment ...` and
// `ejecta report` are the operator's commands.
//
// Exit codes: 0 success; 1 failure (a server unreachable, a component
// stopped with an error); 2 bad usage or invalid input (a bad flag, an
// unknown mode, an unknown crate, a name already taken).
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
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
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
