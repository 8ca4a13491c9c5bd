package backoff

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Startup is the policy for reaching servers when a component starts (one
// started before NATS, its streams or the store are reachable, as compose,
// systemd or a host rebooting may do): quick at first, since a server
// starting beside it is up within a second or two, then every half minute
// at most, spread so that replicas started together do not retry in step.
var Startup = Policy{First: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: Jitter{Low: 0.5, High: 1}}

// permanent marks an error that retrying cannot mend.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one Do must not retry; Do returns err itself.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Do calls try until it returns nil or a Permanent error, or ctx ends,
// waiting p's delays between tries. Before each wait it calls failed (if
// not nil) with the try's number (1 for the first), its error and the
// wait, for the caller to log. When ctx ends it returns the last error,
// wrapped with ctx's.
func Do(ctx context.Context, p Policy, try func(context.Context) error, failed func(n int, err error, wait time.Duration)) error {
	for n := 0; ; n++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last try: %w)", ctx.Err(), err)
		}
		wait := p.Delay(n)
		if failed != nil {
			failed(n+1, err, wait)
		}
		if Sleep(ctx, wait) != nil {
			return fmt.Errorf("%w (last try: %w)", ctx.Err(), err)
		}
	}
}
