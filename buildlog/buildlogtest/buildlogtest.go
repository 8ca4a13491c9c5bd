// Package buildlogtest publishes build logs by hand, chunk by chunk, as a
// builder does, for tests of log readers, and reads them back message by
// message, chunks as they were framed, for tests of log writers.
package buildlogtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// Chunks reads one attempt's log back from LogsStream as a reader would:
// every chunk up to the end marker (nil if none arrives within wait).
func Chunks(t testing.TB, js jetstream.JetStream, subj string, wait time.Duration) ([]buildlog.Chunk, *streams.LogEnd) {
	t.Helper()
	chunks, end, _ := Take(t, js, subj, wait)
	return chunks, end
}

// Take is Chunks that also returns the stream sequence of the last message
// read (0: none), up to which an uploader would purge what it took.
func Take(t testing.TB, js jetstream.JetStream, subj string, wait time.Duration) ([]buildlog.Chunk, *streams.LogEnd, uint64) {
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
	var last uint64
	for {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				return chunks, nil, last
			}
			t.Fatalf("read log %s: %v", subj, err)
		}
		last = streams.StreamSeq(m)
		c, end, err := buildlog.ParseMsg(m.Headers(), m.Data())
		if err != nil {
			t.Fatalf("parse log message: %v", err)
		}
		if end != nil {
			return chunks, end, last
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

// Log is one attempt's log being published.
type Log struct {
	t       testing.TB
	js      jetstream.JetStream
	Build   streams.BuildKey
	Attempt int
	seq     uint64
	bytes   uint64
	sum     hash.Hash
	all     strings.Builder
}

// NewLog starts the log of attempt of k; nothing is published yet.
func NewLog(t testing.TB, js jetstream.JetStream, k streams.BuildKey, attempt int) *Log {
	return &Log{t: t, js: js, Build: k, Attempt: attempt, sum: sha256.New()}
}

// Write publishes s as the next chunk.
func (l *Log) Write(s string) {
	l.t.Helper()
	l.WriteAt(s, time.Time{})
}

// WriteAt publishes s as the next chunk, written by the task at time at
// (zero: no time recorded).
func (l *Log) WriteAt(s string, at time.Time) {
	l.t.Helper()
	l.seq++
	m := buildlog.NewChunkMsg(streams.LogSubject(l.Build, l.Attempt), buildlog.Chunk{
		Seq: l.seq, Offset: l.bytes, Stream: buildlog.StreamStdout, Data: []byte(s), Time: at,
	})
	if _, err := l.js.PublishMsg(ctx(l.t), m); err != nil {
		l.t.Fatalf("publish chunk %d of %s: %v", l.seq, l.Build, err)
	}
	l.bytes += uint64(len(s))
	l.sum.Write([]byte(s))
	l.all.WriteString(s)
}

// Lose counts s as the next chunk but does not publish it: a chunk that
// never reached the stream, a hole.
func (l *Log) Lose(s string) {
	l.seq++
	l.bytes += uint64(len(s))
	l.sum.Write([]byte(s))
	l.all.WriteString(s)
}

// End publishes the end marker.
func (l *Log) End(status streams.Status) streams.LogEnd {
	l.t.Helper()
	end := streams.LogEnd{Status: status, Chunks: l.seq, Bytes: l.bytes, SHA256: hex.EncodeToString(l.sum.Sum(nil))}
	m, err := buildlog.NewEndMsg(streams.LogSubject(l.Build, l.Attempt), l.seq+1, end)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.js.PublishMsg(ctx(l.t), m); err != nil {
		l.t.Fatalf("publish end of %s: %v", l.Build, err)
	}
	return end
}

// String is every byte written so far.
func (l *Log) String() string { return l.all.String() }

// StoreAndPurge does what an uploader does with a complete log: stores its
// bytes in st and purges its chunks from the stream.
func (l *Log) StoreAndPurge(st store.Store) {
	l.t.Helper()
	key := streams.ExperimentPrefix(l.Build.Experiment) + streams.LogObjectKey(l.Build, l.Attempt)
	if err := st.Put(ctx(l.t), key, strings.NewReader(l.String()), int64(l.all.Len()), "text/plain"); err != nil {
		l.t.Fatalf("store log: %v", err)
	}
	s, err := l.js.Stream(ctx(l.t), streams.LogsStream)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := s.Purge(ctx(l.t), jetstream.WithPurgeSubject(streams.LogSubject(l.Build, l.Attempt))); err != nil {
		l.t.Fatalf("purge log: %v", err)
	}
}

// Ensure creates ejecta's streams on js.
func Ensure(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	if err := streams.Ensure(ctx(t), js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TimedBuffer is a buildlog.TimedWriter that records the time each write
// came with (zero for a plain Write).
type TimedBuffer struct {
	bytes.Buffer
	Times []time.Time
}

// WriteTimed writes p and records at.
func (b *TimedBuffer) WriteTimed(p []byte, at time.Time) (int, error) {
	b.Times = append(b.Times, at)
	return b.Write(p)
}
