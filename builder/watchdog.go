package builder

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Why an attempt's context was ended by the builder itself, as its
// context.Cause: the attempt is a failure of the build, not abandoned.
var (
	errAttemptTimeout = errors.New("attempt timed out")
	errNoOutput       = errors.New("no output")
)

// durationText is a time.Duration that prints without trailing zero units
// ("5m", not "5m0s") in the log's system lines.
type durationText time.Duration

func (d durationText) String() string {
	s := time.Duration(d).String()
	for _, z := range []string{"0s", "0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z && s[len(s)-len(z)-1] >= 'a' {
			s = s[:len(s)-len(z)]
		}
	}
	return s
}

// watchdog notices a build that has gone quiet (crater's "no output for
// 5 minutes"): it is an io.Writer fed alongside the log with the tasks'
// output, and ends the attempt once nothing has been written for the
// limit. A hung build otherwise holds its slot until the wall timeout.
type watchdog struct {
	last atomic.Int64 // unix nanoseconds of the last output (or reset)
}

func newWatchdog() *watchdog {
	w := &watchdog{}
	w.reset()
	return w
}

func (w *watchdog) Write(p []byte) (int, error) {
	w.reset()
	return len(p), nil
}

// reset starts the quiet period afresh, as when a new task starts.
func (w *watchdog) reset() { w.last.Store(time.Now().UnixNano()) }

// watch calls fire once when nothing was written for limit, checking a few
// times per limit, until ctx ends or stop is called.
func (w *watchdog) watch(ctx context.Context, limit time.Duration, fire func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(min(limit/4, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if now.Sub(time.Unix(0, w.last.Load())) >= limit {
					fire()
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
