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
func (b *Builder) slot(ctx, jobs context.Context, slot int) {
	log := b.log.With().Int("slot", slot).Logger()
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
			b.handle(jobs, slot, msg, attempts)
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
