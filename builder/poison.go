package builder

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// bury moves a job that can never be built (not JSON, another schema
// version, an invalid field) or must not be (a body that disagrees with its
// subject, a toolchain this builder does not offer) to the dead stream for
// an operator, then terminates it so JetStream stops redelivering it
// (streams.Bury). The dead letter is published as everything the builder
// publishes is, retried until it is stored, for up to 30s; if it cannot be
// stored the job is left unacknowledged instead: losing it silently would
// be worse than seeing it again.
func (b *Builder) bury(ctx context.Context, msg jetstream.Msg, why error) {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	streams.Bury(pctx, msg, streams.JobsStream, why, b.sender, func(ctx context.Context, m *nats.Msg) error {
		_, err := streams.PublishAcked(ctx, b.js, m, defaultBackoff, b.log)
		return err
	}, b.log)
}
