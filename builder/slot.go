package builder

import (
	"context"

	"github.com/ejecta-build/ejecta/backoff"
)

// slot takes one job at a time until ctx ends; the job is built under
// jobs, which outlives ctx while the builder drains. Taking a job only when
// the slot is free (one no-wait fetch, never a batch) is what spreads work
// across builders: jobs waiting in a busy builder's buffer would be stuck
// there. Which queue the job comes from is the queues' choice (queues.go).
//
// An attempt's end (its result published, its job acknowledged: a few
// round trips to the server) runs behind the slot, while it takes and
// builds its next job; one at a time, so a slot whose ends do not finish
// (the server away) stops after one more build. Each attempt's own order
// (log, upload request, result, ack) is its end's alone.
func (b *Builder) slot(ctx, jobs context.Context, slot int) {
	log := b.log.With().Int("slot", slot).Logger()
	var behind ending
	defer behind.wait()
	for empty, failures := 0, 0; ctx.Err() == nil; {
		if b.waitForDisk(ctx, slot) != nil {
			return
		}
		wake := b.queues.signal()
		msg, attempts, err := b.queues.take(ctx, slot)
		switch {
		case ctx.Err() != nil:
			if msg != nil {
				// Fetched just as the builder began to stop: hand it back.
				_ = msg.Nak()
			}
			return
		case msg != nil:
			empty, failures = 0, 0
			// Other idle slots may find more where this one found a job.
			b.queues.notify()
			if end := b.handle(jobs, slot, msg, attempts); end != nil {
				behind.start(end)
			}
		case err != nil:
			// The server away, or the streams not ensured yet.
			if failures%10 == 0 {
				log.Warn().Err(err).Int("failures", failures).Msg("fetching a job failed, retrying")
			}
			if backoff.Sleep(ctx, defaultBackoff.Delay(failures)) != nil {
				return
			}
			failures++
		default:
			failures = 0
			b.queues.idle(ctx, wake, empty)
			empty++
		}
	}
}

// ending is the end of a slot's last attempt, running behind the slot.
type ending struct {
	done chan struct{} // closed when the end has run; nil: none started
}

// start runs end once the end before it has run.
func (e *ending) start(end func()) {
	e.wait()
	done := make(chan struct{})
	e.done = done
	go func() {
		defer close(done)
		end()
	}()
}

// wait returns once the last end started has run.
func (e *ending) wait() {
	if e.done != nil {
		<-e.done
	}
}
