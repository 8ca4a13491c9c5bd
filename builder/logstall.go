package builder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/streams"
)

// The log stream can keep a build waiting: a full LogsStream (uploaders or
// the store down) or an unreachable NATS blocks the log publisher, which
// blocks the task's output writers, so the compiler waits on its pipe.
// That wait is the farm's failure, never the crate's, so an attempt that
// it spoils ends as an infrastructure error, like a sandbox failure:
//
//   - the no-output watchdog is paused while the log is blocked, so the
//     time blocked never counts as silence;
//   - a log blocked for the attempt's block limit (its no-output timeout,
//     at most its wall timeout) is given up: the publisher stops waiting,
//     the task's writes fail and the build is stopped;
//   - a wall timeout or no-output kill that comes while the log is
//     blocked, in a block that lasts stallMin or more, is not the crate's;
//   - a log that cannot be published whole (given up, or its publisher
//     failed) cannot vouch for any verdict.
//
// Each ends the attempt with status error, reason "log-unavailable": the
// job is handed back to be built again after Config.SandboxRetryDelay, and
// the last attempt it gets publishes the error (handBack). Blocks show in
// the log as "log stream blocked for ..." system lines and in the metric
// ejecta_builder_log_blocked_seconds_total.

// errLogUnavailable ends an attempt whose log was blocked too long (its
// context.Cause), and the publisher's context when the log is given up.
var errLogUnavailable = errors.New("log stream unavailable")

// stallMin is the shortest block that counts as a stall: shorter ones are
// the ordinary back-pressure of a busy stream, acknowledged within
// milliseconds, and a build that times out through them timed out itself.
const stallMin = time.Second

// logStall measures how long an attempt's log publisher keeps its writers
// waiting (it is the publisher's buildlog.Waits). Blocks do not nest: the
// publisher is only entered under the chunker's lock.
type logStall struct {
	quiet   *watchdog               // paused while blocked
	blocked prometheus.Counter      // seconds blocked; nil: not counted
	stop    context.CancelCauseFunc // ends the publisher's context

	mu      sync.Mutex
	since   time.Time     // when the current block began; zero: not blocked
	counted time.Time     // how far the current block is in the metric
	unnoted time.Duration // stall time not yet written in the log
	// killIn is the start of the block going on when the attempt was
	// killed (zero: none), killBlock how long it lasted once it ended.
	killIn    time.Time
	killBlock time.Duration
	// lost: the log was given up, or its publisher failed; it will never
	// be complete on the stream.
	lost bool
}

func newLogStall(quiet *watchdog, blocked prometheus.Counter, stop context.CancelCauseFunc) *logStall {
	return &logStall{quiet: quiet, blocked: blocked, stop: stop}
}

// Block says the writers start waiting for the publisher.
func (s *logStall) Block() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.since.IsZero() {
		s.since, s.counted = now, now
		s.quiet.pause(now)
	}
}

// Unblock says the wait is over; err is how it ended.
func (s *logStall) Unblock(err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lost = true
	}
	if s.since.IsZero() {
		return
	}
	s.account(now)
	d := now.Sub(s.since)
	if s.since.Equal(s.killIn) {
		s.killBlock = d
	}
	if d >= stallMin {
		s.unnoted += d
	}
	s.since = time.Time{}
	s.quiet.resume(now)
}

// account adds the current block's time up to now to the metric, so that
// a long block shows while it lasts. s.mu is held. now may be older than
// the block's start: callers take it before the lock, and the writers may
// block in between (watch's tick); nothing is counted then, since a
// counter cannot go down.
func (s *logStall) account(now time.Time) {
	if s.since.IsZero() || s.blocked == nil || !now.After(s.counted) {
		return
	}
	s.blocked.Add(now.Sub(s.counted).Seconds())
	s.counted = now
}

// killed records the block going on as the attempt's context ends.
func (s *logStall) killed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killIn = s.since
}

// blockedAtKill is how long the block going on when the attempt was
// killed lasted, up to now if it still does; 0 if there was none.
func (s *logStall) blockedAtKill(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.killIn.IsZero():
		return 0
	case s.since.Equal(s.killIn):
		return now.Sub(s.killIn)
	}
	return s.killBlock
}

// isLost reports whether the log can no longer be completed.
func (s *logStall) isLost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// note returns the stall time not yet written in the log, and forgets it.
func (s *logStall) note() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.unnoted
	s.unnoted = 0
	return d
}

// watch gives the log up, and calls fire, once a block has lasted limit
// or the publisher has failed; it checks a few times per limit until ctx
// ends or stop is called.
func (s *logStall) watch(ctx context.Context, limit time.Duration, fire func()) (stop func()) {
	return poll(ctx, checkEvery(limit), func(now time.Time) bool {
		s.mu.Lock()
		s.account(now)
		over := !s.since.IsZero() && now.Sub(s.since) >= limit
		if over {
			s.lost = true
		}
		lost := s.lost
		s.mu.Unlock()
		if over {
			s.stop(errLogUnavailable)
		}
		if lost {
			fire()
		}
		return lost
	})
}

// close releases the publisher's context once the attempt is over.
func (s *logStall) close() { s.stop(nil) }

// logBlockLimit is how long the attempt's log may block its writers in
// one go before it is given up: as long as the build may stay silent, and
// never past the wall timeout.
func (a *attempt) logBlockLimit() time.Duration {
	if a.b.logBlockLimit > 0 {
		return a.b.logBlockLimit
	}
	return min(time.Duration(a.lim.NoOutput), time.Duration(a.lim.Timeout))
}

// noteLogBlocked writes a system line for the stalls since the last one.
// A stall shows up after the write it held up, at the end of a step.
func (a *attempt) noteLogBlocked() {
	if d := a.stall.note(); d > 0 {
		fmt.Fprintf(a.sys, "log stream blocked for %s; the output waited (the logs stream full or NATS unreachable), and the no-output timeout did not count that time\n",
			d.Round(time.Second))
	}
}

// logVerdict replaces v by the infrastructure error when the log spoiled
// the attempt: the log cannot be completed, or a timeout killed the build
// while its output waited on the log stream. cause is why the attempt's
// context ended.
func (a *attempt) logVerdict(v cargo.Verdict, cause error) cargo.Verdict {
	a.noteLogBlocked()
	blocked := a.stall.blockedAtKill(time.Now())
	timedOut := errors.Is(cause, cargo.ErrTimeout) || errors.Is(cause, cargo.ErrNoOutput)
	switch {
	case a.stall.isLost():
		a.log.Warn().Dur("limit", a.logBlockLimit()).Str("verdict", string(v.Status)+" "+string(v.Reason)).
			Msg("build log could not be published; the attempt ends as an infrastructure error")
		// Written only if the log works again, which it rarely does.
		fmt.Fprintf(a.sys, "the log could not be published whole (blocked for %s, or refused): the build was stopped; an infrastructure error, not the crate's\n",
			cargo.Duration(a.logBlockLimit()))
	case timedOut && blocked >= stallMin && (v.Reason == streams.ReasonTimeout || v.Reason == streams.ReasonNoOutputTimeout):
		a.log.Warn().Dur("blocked", blocked).Str("verdict", string(v.Reason)).
			Msg("build killed while its log was blocked; the attempt ends as an infrastructure error")
		fmt.Fprintf(a.sys, "log stream blocked for %s when the build was killed: the %s is not the crate's; an infrastructure error\n",
			blocked.Round(time.Second), v.Reason)
	default:
		return v
	}
	return cargo.Verdict{Status: streams.StatusError, Reason: streams.ReasonLogUnavailable, ExitCode: v.ExitCode}
}

// finishUnlogged ends the last attempt a job gets when its log could not
// be published: the result says so, with no end marker and no upload
// request, since the stream does not hold the log whole. What it holds is
// stored by the uploaders as an abandoned log (their sweep).
func (a *attempt) finishUnlogged(ctx context.Context, v cargo.Verdict, start time.Time) {
	if err := a.publishResult(ctx, v, start); err != nil {
		if ctx.Err() != nil {
			a.abandon()
			return
		}
		a.log.Error().Err(err).Msg("cannot record the result of a build whose log was lost; leaving the job for redelivery")
		_ = a.msg.Nak()
		return
	}
	a.b.met.finished(v, time.Since(start))
	a.log.Warn().Str("status", string(v.Status)).Str("reason", string(v.Reason)).
		Dur("duration", time.Since(start)).Msg("build finished without its log")
}
