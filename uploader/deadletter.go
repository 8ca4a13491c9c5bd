package uploader

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// deadLetter keeps msg, unchanged, on the dead stream of the experiment it
// names with the reason it cannot be processed, then terminates it
// (streams.Bury). The dead letter is published once; if it cannot be, the
// request is delivered again after the retry delay.
func (u *Uploader) deadLetter(ctx context.Context, msg jetstream.Msg, reason error) {
	publish := func(ctx context.Context, m *nats.Msg) error {
		u.cfg.JobKey.SignMsgID(m)
		_, err := u.js.PublishMsg(ctx, m)
		return err
	}
	if !streams.Bury(ctx, msg, streams.UploadsStream, reason, u.sender, publish, u.log) {
		delay := u.cfg.retryDelay(deliveries(msg))
		u.log.Info().Str("subject", msg.Subject()).Dur("retry_in", delay).Msg("poison upload request given back, to be dead-lettered later")
		msg.NakWithDelay(delay)
	}
}
