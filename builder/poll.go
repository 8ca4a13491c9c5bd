package builder

import (
	"context"
	"time"
)

// poll calls check every period, with the time of the tick, until check
// says it is done, ctx ends or stop is called; stop returns once check
// runs no more. The attempt's watchers (watchdog, logStall, the disk
// quota) are each a check.
func poll(ctx context.Context, period time.Duration, check func(now time.Time) (done bool)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if check(now) {
					return
				}
			}
		}
	}()
	return func() { cancel(); <-finished }
}

// checkEvery is how often a watcher with a limit looks: a few times per
// limit, at least once a second.
func checkEvery(limit time.Duration) time.Duration { return min(limit/4, time.Second) }
