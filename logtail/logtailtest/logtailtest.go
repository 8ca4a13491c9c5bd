// Package logtailtest publishes build logs by hand, chunk by chunk, through
// the streams helpers, as a builder does, for tests of log readers.
package logtailtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

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
