package builder

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
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// startJetStream starts an in-process server with every ejecta stream.
func startJetStream(t *testing.T, cfg streams.Config) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv := testenv.StartNATS(t)
	nc, js := srv.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

// readLog reads one attempt's log back from LogsStream as a reader would:
// every chunk up to the end marker (nil if none arrives within wait).
func readLog(t *testing.T, js jetstream.JetStream, subj string, wait time.Duration) ([]buildlog.Chunk, *streams.LogEnd) {
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

// checkSequence fails t unless chunks are numbered 1..n with contiguous
// offsets and none is larger than MaxChunkBytes; it returns the log's bytes.
func checkSequence(t *testing.T, chunks []buildlog.Chunk) []byte {
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

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
