package builder

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// bury moves a job that can never be built (not JSON, another schema
// version, an invalid field) or must not be (a body that disagrees with its
// subject, a toolchain this builder does not offer) to the dead stream for
// an operator, then
// terminates it so JetStream stops redelivering it. If the dead letter
// cannot be stored the job is left unacknowledged instead: losing it
// silently would be worse than seeing it again.
func (b *Builder) bury(ctx context.Context, msg jetstream.Msg, why error) {
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	dead := streams.NewDeadMsg(msg.Subject(), msg.Data(), streams.JobsStream, seq, why)
	log := b.log.With().Str("subject", msg.Subject()).Str("dead_subject", dead.Subject).Logger()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := streams.PublishAcked(pctx, b.js, dead, defaultBackoff, log); err != nil {
		log.Error().Err(err).AnErr("poison", why).Msg("cannot store a poison job on the dead stream; leaving it for redelivery")
		return
	}
	if err := msg.TermWithReason(dead.Header.Get(streams.HdrDeadReason)); err != nil {
		log.Warn().Err(err).Msg("terminate poison job")
	}
	log.Warn().Err(why).Msg("poison job moved to the dead stream")
}
