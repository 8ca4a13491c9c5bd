package builder

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// handle takes one message off the jobs stream: a poison message is buried,
// a job is built, or given up once JetStream has delivered it more than
// attempts times (0: no limit).
func (b *Builder) handle(ctx context.Context, slot int, msg jetstream.Msg, attempts int) {
	var job streams.Job
	if err := streams.Decode(msg.Data(), &job); err != nil {
		b.bury(ctx, msg, err)
		return
	}
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery: nothing to number the attempt with.
		b.log.Error().Err(err).Str("subject", msg.Subject()).Msg("job without metadata; leaving it for redelivery")
		_ = msg.Nak()
		return
	}
	a := &attempt{b: b, slot: slot, job: &job, msg: msg, n: job.AttemptBase + int(md.NumDelivered),
		delivered: md.NumDelivered, attempts: attempts}
	if attempts > 0 && md.NumDelivered > uint64(attempts) {
		a.giveUp(ctx, attempts, md.Sequence.Stream)
		return
	}
	a.run(ctx)
}
