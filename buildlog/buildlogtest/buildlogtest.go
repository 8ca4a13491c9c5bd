// Package buildlogtest reads build logs back from LogsStream message by
// message, chunks as they were framed, for tests of log writers.
package buildlogtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// Chunks reads one attempt's log back from LogsStream as a reader would:
// every chunk up to the end marker (nil if none arrives within wait).
func Chunks(t testing.TB, js jetstream.JetStream, subj string, wait time.Duration) ([]buildlog.Chunk, *streams.LogEnd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", subj, err)
	}
	var chunks []buildlog.Chunk
	for {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return chunks, nil
			}
			t.Fatalf("read log %s: %v", subj, err)
		}
		c, end, err := buildlog.ParseMsg(m.Headers(), m.Data())
		if err != nil {
			t.Fatalf("parse log message: %v", err)
		}
		if end != nil {
			return chunks, end
		}
		chunks = append(chunks, *c)
	}
}

// Sequence fails t unless chunks are numbered 1..n with contiguous
// offsets and none is empty or larger than MaxChunkBytes; it returns the
// log's bytes.
func Sequence(t testing.TB, chunks []buildlog.Chunk) []byte {
	t.Helper()
	var all bytes.Buffer
	for i, c := range chunks {
		if c.Seq != uint64(i+1) {
			t.Fatalf("chunk %d has seq %d", i, c.Seq)
		}
		if c.Offset != uint64(all.Len()) {
			t.Fatalf("chunk %d at offset %d, want %d", c.Seq, c.Offset, all.Len())
		}
		if len(c.Data) == 0 || len(c.Data) > buildlog.MaxChunkBytes {
			t.Fatalf("chunk %d has %d bytes", c.Seq, len(c.Data))
		}
		all.Write(c.Data)
	}
	return all.Bytes()
}

// SHA256 is the hex sha256 of b, as end markers give it.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
