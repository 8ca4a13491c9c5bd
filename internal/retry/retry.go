// Package retry is the start-up retry policy of ejecta's long-running
// components: a component started before NATS, its streams or the store
// are reachable (compose, systemd, a host rebooting) waits for them with
// exponential back-off instead of exiting, and stops at the first error
// that waiting cannot mend (a wrong password, a bad flag).
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy grows the wait between tries exponentially from Min to Max, with
// jitter, so that replicas started together do not retry in lock-step.
type Policy struct {
	Min, Max time.Duration
}

// Startup is the policy for reaching servers at start: quick at first (a
// server starting beside us is up within a second or two), then every half
// minute at most.
var Startup = Policy{Min: 500 * time.Millisecond, Max: 30 * time.Second}

// Delay is the wait before retry n (0 for the first retry): between half
// of and the full exponential step.
func (p Policy) Delay(n int) time.Duration {
	d := p.Min
	for i := 0; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d/2 + rand.N(d/2+1)
}

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

// Do calls try until it returns nil or a Permanent error, or ctx ends.
// Before each wait it calls failed with the try's number (1 for the
// first), its error and the wait, for the caller to log. When ctx ends it
// returns the last error, wrapped with ctx's.
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
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last try: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
