package builder

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// fetchWait is how long one pull request waits for a job. Short enough that
// a slot notices shutdown promptly without relying on ctx alone, long enough
// not to flood the server with pull requests when the queue is empty.
const fetchWait = 5 * time.Second

// slot takes one job at a time until ctx ends; the job is built under
// jobs, which outlives ctx while the builder drains. Taking a job only when
// the slot is free (Next, never a batch) is what spreads work across
// builders: jobs waiting in a busy builder's buffer would be stuck there.
func (b *Builder) slot(ctx, jobs context.Context, slot int) {
	log := b.log.With().Int("slot", slot).Logger()
	var cons jetstream.Consumer
	for failures := 0; ctx.Err() == nil; {
		if b.waitForDisk(ctx) != nil {
			return
		}
		var err error
		if cons == nil {
			cons, err = b.js.Consumer(ctx, streams.JobsStream, streams.BuildersConsumer)
		}
		var msg jetstream.Msg
		if err == nil {
			msg, err = b.next(ctx, cons)
		}
		switch {
		case ctx.Err() != nil:
			if err == nil {
				// Fetched just as the builder began to stop: hand it back.
				_ = msg.Nak()
			}
			return
		case err == nil:
			failures = 0
			b.handle(jobs, slot, msg, streams.JobAttempts(cons.CachedInfo().Config.MaxDeliver))
			continue
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
			failures = 0 // an empty queue
			continue
		}
		// The consumer may be gone (streams not ensured yet, deleted by an
		// operator) or the server away: look it up afresh after a pause.
		if failures%10 == 0 {
			log.Warn().Err(err).Int("failures", failures).Msg("fetching a job failed, retrying")
		}
		cons = nil
		if sleep(ctx, defaultBackoff.delay(failures)) != nil {
			return
		}
		failures++
	}
}

// next waits up to fetchWait for one job, returning early when ctx ends.
func (b *Builder) next(ctx context.Context, cons jetstream.Consumer) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	return cons.Next(jetstream.FetchContext(fctx))
}
