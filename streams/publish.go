package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
)

// PublishAcked publishes m to JetStream, waits for the stream's ack and returns it,
// retrying every failure until it succeeds or ctx ends, but for a message
// too large to be taken at all.
//
// Waiting for the ack is what makes a full stream (LogsStream and
// ResultsStream discard new messages: "maximum bytes exceeded")
// back-pressure rather than loss: the publish is refused, the caller
// waits, and tries again once room is made (an uploader purging a stored
// log). Other errors (no responders while the server restarts, timeouts)
// are retried the same way; every message carries a Nats-Msg-Id, so a
// retry of a publish whose ack was lost is deduplicated by the stream.
//
// Each try waits at most RequestTimeout for its ack: a stream electing a
// leader answers nothing, and a try waiting on it for the whole of a long
// ctx would never be retried.
func PublishAcked(ctx context.Context, js jetstream.JetStream, m *nats.Msg, p backoff.Policy, log zerolog.Logger) (*jetstream.PubAck, error) {
	for n := 0; ; n++ {
		tctx, cancel := context.WithTimeout(ctx, RequestTimeout)
		ack, err := js.PublishMsg(tctx, m)
		cancel()
		if err == nil {
			if n > 0 {
				log.Info().Str("subject", m.Subject).Int("retries", n).Msg("publish went through")
			}
			return ack, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("publish to %s: %w", m.Subject, ctx.Err())
		}
		if tooLarge(err) {
			// No retry makes it fit: a bug of ours, not a full stream.
			return nil, fmt.Errorf("publish to %s (%d bytes): %w", m.Subject, len(m.Data), err)
		}
		// Log the first failure and then every 20th: a stream full for
		// minutes must not flood the builder's log.
		if n%20 == 0 {
			log.Warn().Err(err).Str("subject", m.Subject).Int("retries", n).Msg("publish refused, retrying")
		}
		if err := backoff.Sleep(ctx, p.Delay(n)); err != nil {
			return nil, fmt.Errorf("publish to %s: %w", m.Subject, err)
		}
	}
}

// RequestTimeout bounds one request to JetStream that is retried when it
// fails (the client's own default, which applies only to a context without
// a deadline).
const RequestTimeout = 5 * time.Second

// tooLarge reports whether err refuses a message for its size: the
// server's max_payload or the stream's MaxMsgSize.
func tooLarge(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum)
}
