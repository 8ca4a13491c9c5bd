package builder

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is the retry policy for everything the builder must not give up
// on while it runs (publishing log bytes, results, fetching jobs): grow
// exponentially from min to max, with jitter so that a farm of builders
// hitting the same full stream does not retry in lock-step.
type backoff struct {
	min, max time.Duration
}

// defaultBackoff keeps a builder waiting on a full LogsStream responsive
// (a purge is noticed within max) without hammering the server.
var defaultBackoff = backoff{min: 50 * time.Millisecond, max: 2 * time.Second}

// delay is the wait before retry number n (0 for the first retry).
func (b backoff) delay(n int) time.Duration {
	d := b.min
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	// Full jitter on the upper half: between d/2 and d.
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
