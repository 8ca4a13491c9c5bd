package builder

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/streams"
)

// logPublisher is the chunkSink that puts one attempt's chunks on its
// LogSubject. It holds the builder's context, not the attempt's: a build
// that timed out still has its log delivered; only the builder stopping
// abandons it.
type logPublisher struct {
	ctx     context.Context
	js      jetstream.JetStream
	subject string
	bo      backoff
	log     zerolog.Logger
}

func (p *logPublisher) writeChunk(c streams.Chunk) error {
	if err := publishRetry(p.ctx, p.js, streams.NewChunkMsg(p.subject, c), p.bo, p.log); err != nil {
		return fmt.Errorf("log chunk %d: %w", c.Seq, err)
	}
	return nil
}

// writeEnd publishes the end marker that closes the log summarised by s.
func (p *logPublisher) writeEnd(s logSummary, v verdict) (streams.LogEnd, error) {
	end := streams.LogEnd{Status: v.status, ExitCode: v.exitCode, Reason: v.reason, Chunks: s.Chunks, Bytes: s.Bytes, SHA256: s.SHA256}
	m, err := streams.NewEndMsg(p.subject, s.Chunks+1, end)
	if err != nil {
		return end, err
	}
	if err := publishRetry(p.ctx, p.js, m, p.bo, p.log); err != nil {
		return end, fmt.Errorf("log end marker: %w", err)
	}
	return end, nil
}
