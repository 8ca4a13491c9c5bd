package builder

import (
	"context"
	"sync"
	"time"
)

// watchdog notices a build that has gone quiet (crater's "no output for
// 5 minutes"): it is an io.Writer fed alongside the log with the tasks'
// output, and ends the attempt once nothing has been written for the
// limit. A hung build otherwise holds its slot until the wall timeout.
//
// While the log stream keeps the task's output waiting (logStall) the
// watchdog is paused: that silence is the farm's, not the build's, and the
// time paused does not count.
type watchdog struct {
	mu sync.Mutex
	// last is when the quiet period began: the last output or reset,
	// moved forward by the time paused since.
	last time.Time
	// paused is when the current pause began; zero when not paused.
	paused time.Time
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
func (w *watchdog) reset() {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = now
	if !w.paused.IsZero() {
		w.paused = now
	}
}

// pause stops the quiet period from growing until resume.
func (w *watchdog) pause(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused.IsZero() {
		w.paused = now
	}
}

// resume lets the quiet period grow again from where pause left it.
func (w *watchdog) resume(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused.IsZero() {
		w.last = w.last.Add(now.Sub(w.paused))
		w.paused = time.Time{}
	}
}

// quiet is how long the tasks have been silent at now, pauses left out.
func (w *watchdog) quiet(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.paused.IsZero() {
		now = w.paused
	}
	return now.Sub(w.last)
}

// watch calls fire once when nothing was written for limit, checking a few
// times per limit, until ctx ends or stop is called.
func (w *watchdog) watch(ctx context.Context, limit time.Duration, fire func()) (stop func()) {
	return poll(ctx, checkEvery(limit), func(now time.Time) bool {
		if w.quiet(now) < limit {
			return false
		}
		fire()
		return true
	})
}
