// Package backoff says how long to wait before trying again, and waits.
// Every retry loop of ejecta takes its waits from a Policy of its own
// numbers (publishing to a full stream, fetching jobs and upload requests,
// redelivering a failed upload, rebuilding log archives, reaching NATS and
// the store at start: Startup, Do) and waits with Sleep, which a context
// ends early.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is a retry policy: the wait before retry n (0 for the first) is
// First, doubled with each retry (or, with Step, Step longer each time)
// up to Max, then drawn at random from Jitter's range around it.
type Policy struct {
	First, Max time.Duration
	// Step, when not 0, makes the waits grow by Step a retry instead of
	// doubling.
	Step time.Duration
	// Jitter spreads the waits so that many clients failed by one outage
	// do not all retry at the same instant.
	Jitter Jitter
}

// Jitter is the range a wait d is drawn from, as fractions of d: from
// Low*d to High*d. The zero value draws nothing: the wait is d.
type Jitter struct {
	Low, High float64
}

// Delay is the wait before retry number n (0 for the first retry).
func (p Policy) Delay(n int) time.Duration {
	d := p.First
	for i := 0; i < n && d < p.Max; i++ {
		if p.Step > 0 {
			d += p.Step
		} else {
			d *= 2
		}
	}
	d = min(d, p.Max)
	if p.Jitter == (Jitter{}) {
		return d
	}
	j := p.Jitter
	return time.Duration(float64(d) * (j.Low + (j.High-j.Low)*rand.Float64()))
}

// Sleep waits d or until ctx ends, whichever comes first; it returns
// ctx's error if ctx ended.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
