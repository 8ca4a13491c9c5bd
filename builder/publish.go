package builder

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

// defaultBackoff is the retry policy for everything the builder must not
// give up on while it runs (publishing log bytes, results, fetching jobs):
// it keeps a builder waiting on a full LogsStream responsive (a purge is
// noticed within its Max) without hammering the server.
var defaultBackoff = backoff.Policy{First: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: retryJitter}

// retryJitter draws each of the builder's waits from the upper half of
// its length, d/2 to d, so that a farm of builders hitting the same full
// stream does not retry in lock-step.
var retryJitter = backoff.Jitter{Low: 0.5, High: 1}

// publishRetry publishes m to JetStream and waits for the stream's ack,
// retrying every failure until it succeeds or ctx ends, but for a message
// too large to be taken at all.
//
// Waiting for the ack is what makes a full LogsStream (discard-new,
// "maximum bytes exceeded") back-pressure rather than loss: the publish is
// refused, we wait, and try again once an uploader has made room. Other
// errors (no responders while the server restarts, timeouts) are retried the
// same way; every message carries a Nats-Msg-Id, so a retry of a publish
// whose ack was lost is deduplicated by the stream.
func publishRetry(ctx context.Context, js jetstream.JetStream, m *nats.Msg, bo backoff.Policy, log zerolog.Logger) error {
	for n := 0; ; n++ {
		_, err := js.PublishMsg(ctx, m)
		if err == nil {
			if n > 0 {
				log.Info().Str("subject", m.Subject).Int("retries", n).Msg("publish went through")
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish to %s: %w", m.Subject, ctx.Err())
		}
		if tooLarge(err) {
			// No retry makes it fit: a bug of ours, not a full stream.
			return fmt.Errorf("publish to %s (%d bytes): %w", m.Subject, len(m.Data), err)
		}
		// Log the first failure and then every 20th: a stream full for
		// minutes must not flood the builder's log.
		if n%20 == 0 {
			log.Warn().Err(err).Str("subject", m.Subject).Int("retries", n).Msg("publish refused, retrying")
		}
		if err := backoff.Sleep(ctx, bo.Delay(n)); err != nil {
			return fmt.Errorf("publish to %s: %w", m.Subject, err)
		}
	}
}

// tooLarge reports whether err refuses a message for its size: the
// server's max_payload or the stream's MaxMsgSize.
func tooLarge(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum)
}
