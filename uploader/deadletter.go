package uploader

import (
	"context"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// deadLetter keeps msg, unchanged, on the dead stream of the experiment it
// names with the reason it cannot be processed, then terminates it. If the
// dead letter cannot be published the request is retried later instead: a
// poison message is evidence and must not vanish.
func (u *Uploader) deadLetter(ctx context.Context, msg jetstream.Msg, reason error) {
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	dm := streams.NewDeadMsg(msg.Subject(), msg.Data(), streams.UploadsStream, seq, reason)
	why := dm.Header.Get(streams.HdrDeadReason)
	log := u.log.With().Str("subject", msg.Subject()).Str("dead_subject", dm.Subject).Str("reason", why).Logger()
	if _, err := u.js.PublishMsg(ctx, dm); err != nil {
		delay := u.cfg.retryDelay(deliveries(msg))
		log.Error().Err(err).Dur("retry_in", delay).Msg("poison upload request; could not dead-letter it, will retry")
		msg.NakWithDelay(delay)
		return
	}
	if err := msg.TermWithReason(why); err != nil {
		log.Warn().Err(err).Msg("dead-lettered upload request but could not terminate it")
		return
	}
	log.Error().Msg("poison upload request dead-lettered")
}
