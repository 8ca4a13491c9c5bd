package buildlog_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// newWindowLog is newTestLog with a publish window of window chunks.
func newWindowLog(log zerolog.Logger, js jetstream.JetStream, window, attempt int) (*buildlog.Chunker, *buildlog.Publisher, string) {
	subj := streams.LogSubject(testKey, attempt)
	pub := buildlog.NewPublisher(context.Background(), js, subj, buildlog.PublisherConfig{Window: window, Retry: testRetry, Log: log})
	return buildlog.NewChunker(pub, buildlog.MaxChunkBytes, buildlog.ChunkDelay), pub, subj
}

// A log of many chunks arrives complete and in order, whatever the window;
// the end marker comes after every chunk.
func TestLogWindowInOrder(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	for i, window := range []int{1, 64} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			c, pub, subj := newWindowLog(testLogger(t), js, window, i+1)
			var want bytes.Buffer
			w := c.Writer(buildlog.StreamStdout)
			for n := range 500 {
				// Chunk-sized writes with distinct content, so a reordering or
				// a duplicate shows in the bytes.
				p := fmt.Appendf(nil, "chunk %06d ", n)
				p = append(p, bytes.Repeat([]byte{byte('a' + n%26)}, buildlog.MaxChunkBytes-len(p))...)
				want.Write(p)
				if _, err := w.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := c.End()
			if err != nil {
				t.Fatal(err)
			}
			if pub.InFlight() != 0 {
				t.Errorf("%d chunks unacknowledged after end", pub.InFlight())
			}
			if _, err := pub.WriteEnd(sum, streams.LogEnd{Status: streams.StatusTestPass}); err != nil {
				t.Fatal(err)
			}
			chunks, end := buildlogtest.Chunks(t, js, subj, 20*time.Second)
			if end == nil {
				t.Fatalf("no end marker after %d chunks", len(chunks))
			}
			got := buildlogtest.Sequence(t, chunks)
			if len(chunks) != 500 || !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("read back %d chunks, %d bytes; wrote 500 chunks, %d bytes", len(chunks), len(got), want.Len())
			}
			if end.Chunks != 500 || end.SHA256 != buildlogtest.SHA256(want.Bytes()) {
				t.Errorf("end marker %+v", end)
			}
		})
	}
}

// With a window, a full stream still blocks the writer, and once room is
// made every chunk is there exactly once, in order, even though later
// chunks were in flight when earlier ones were refused.
func TestLogWindowBackPressure(t *testing.T) {
	cfg := streams.DefaultConfig()
	cfg.LogMaxBytes = 1 << 20
	js := startJetStream(t, cfg)
	ctx := context.Background()
	c, _, subj := newWindowLog(testLogger(t), js, 16, 1)
	w := c.Writer(buildlog.StreamStdout)
	var wrote bytes.Buffer
	done := make(chan error, 1)
	go func() {
		for i := range 60 {
			p := fmt.Appendf(nil, "chunk %03d ", i)
			p = append(p, bytes.Repeat([]byte{byte('a' + i%26)}, buildlog.MaxChunkBytes-len(p))...)
			wrote.Write(p)
			if _, err := w.Write(p); err != nil {
				done <- err
				return
			}
		}
		_, err := c.End()
		done <- err
	}()
	logs, err := js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	var got []buildlog.Chunk
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := buildlogtest.Chunks(t, js, subj, 500*time.Millisecond)
			all := buildlogtest.Sequence(t, append(got, rest...))
			if !bytes.Equal(all, wrote.Bytes()) {
				t.Fatalf("read back %d bytes, wrote %d", len(all), wrote.Len())
			}
			return
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("writer still blocked after 60s of purging")
		}
		// Play the uploader: take what is stored, in stream order, then
		// purge what was taken, and only that, as an uploader does: a
		// chunk stored after the read is the next round's.
		chunks, _, last := buildlogtest.Take(t, js, subj, 300*time.Millisecond)
		if len(chunks) > 0 && chunks[0].Seq != uint64(len(got)+1) {
			t.Fatalf("stream starts at chunk %d after %d were taken", chunks[0].Seq, len(got))
		}
		got = append(got, chunks...)
		if last > 0 {
			if err := logs.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(last+1)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// defaultLogWindow is the builder's default window (builder.DefaultLogWindow).
const defaultLogWindow = 64

// BenchmarkLogChunks measures chunk throughput to an in-process server,
// synchronous (window 1) against the default window.
func BenchmarkLogChunks(b *testing.B) {
	_, js := testenv.StartNATS(b).Connect(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		b.Fatal(err)
	}
	p := bytes.Repeat([]byte{'x'}, buildlog.MaxChunkBytes)
	for i, window := range []int{1, defaultLogWindow} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			c, _, _ := newWindowLog(zerolog.Nop(), js, window, 1000+i)
			w := c.Writer(buildlog.StreamStdout)
			b.SetBytes(int64(len(p)))
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := w.Write(p); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := c.End(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "chunks/s")
		})
	}
}

// When a chunk's publish fails after later chunks were stored (room made
// between them, a connection lost with one), the log is repaired: the
// later ones are deleted and everything from the failed one is published
// again, so the stream holds each chunk once, in sequence order.
func TestLogWindowRepairsOrder(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	_, pub, subj := newWindowLog(testLogger(t), js, 8, 1)
	chunk := func(seq uint64) buildlog.Chunk {
		return buildlog.Chunk{Seq: seq, Offset: (seq - 1) * 4, Stream: buildlog.StreamStdout, Data: fmt.Appendf(nil, "c%03d", seq)}
	}
	ctx := context.Background()
	if err := pub.WriteChunk(chunk(1)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{3, 4} {
		if _, err := js.PublishMsg(ctx, buildlog.NewChunkMsg(subj, chunk(seq))); err != nil {
			t.Fatal(err)
		}
	}
	// Chunk 2 was refused; 3 and 4 went through but their acks are still
	// to be collected (fut nil: treated as refused too, as after a lost
	// connection); 5 is still to come.
	pub.SetRefused(chunk(2), chunk(3), chunk(4))
	if err := pub.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteChunk(chunk(5)); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WriteEnd(buildlog.Summary{Chunks: 5, Bytes: 20}, streams.LogEnd{Status: streams.StatusTestPass}); err != nil {
		t.Fatal(err)
	}
	chunks, end := buildlogtest.Chunks(t, js, subj, 5*time.Second)
	if end == nil {
		t.Fatalf("no end marker after %d chunks", len(chunks))
	}
	if got := string(buildlogtest.Sequence(t, chunks)); got != "c001c002c003c004c005" {
		t.Errorf("log = %q, want chunks 1 to 5 once each", got)
	}
}

// A long build's chunks wait in the window, acknowledged, until the log is
// synced at its end, long after the ack timeout counted from their send:
// an acknowledgement that came is never taken for a timeout, and nothing
// is republished.
func TestLogWindowOldAcksSettle(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	_, pub, subj := newWindowLog(testLogger(t), js, 64, 1)
	for seq := uint64(1); seq <= 32; seq++ {
		c := buildlog.Chunk{Seq: seq, Offset: (seq - 1) * 4, Stream: buildlog.StreamStdout, Data: fmt.Appendf(nil, "c%03d", seq)}
		if err := pub.WriteChunk(c); err != nil {
			t.Fatal(err)
		}
	}
	// Every ack in, as they are within milliseconds of the publishes.
	if chunks, _ := buildlogtest.Chunks(t, js, subj, 2*time.Second); len(chunks) != 32 {
		t.Fatalf("%d chunks stored, want 32", len(chunks))
	}
	pub.Backdate(time.Minute)
	if err := pub.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := pub.Repairs(); n != 0 {
		t.Errorf("the log was republished %d times; every chunk was acknowledged", n)
	}
}

// reorderingJS stores the first chunk of a log after the next two, each
// acknowledged, as a stream can across a change of its leader (seen in a
// 3-node cluster with a node killed: chunk 1 at stream sequence 24, chunks 2
// and 3 at 14 and 15).
type reorderingJS struct {
	jetstream.JetStream
	mu   sync.Mutex
	n    int        // asynchronous publishes so far
	held *heldChunk // the first, published once the third is stored
}

type heldChunk struct {
	msg *nats.Msg
	ok  chan *jetstream.PubAck
	err chan error
}

func (h *heldChunk) Ok() <-chan *jetstream.PubAck { return h.ok }
func (h *heldChunk) Err() <-chan error            { return h.err }
func (h *heldChunk) Msg() *nats.Msg               { return h.msg }

func (r *reorderingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n == 1 {
		r.held = &heldChunk{msg: m, ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
		return r.held, nil
	}
	fut, err := r.JetStream.PublishMsgAsync(m, opts...)
	if r.n == 3 && err == nil {
		<-r.JetStream.PublishAsyncComplete()
		ack, err := r.JetStream.PublishMsg(context.Background(), r.held.msg)
		if err != nil {
			r.held.err <- err
		} else {
			r.held.ok <- ack
		}
	}
	return fut, err
}

// A log whose chunks the stream stored out of order, each acknowledged, is
// put back in order: a reader finds every chunk in sequence.
func TestLogStoredOutOfOrderIsRepaired(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	repairs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "repairs"}, []string{"cause"})
	subj := streams.LogSubject(testKey, 1)
	pub := buildlog.NewPublisher(context.Background(), &reorderingJS{JetStream: js}, subj,
		buildlog.PublisherConfig{Window: 64, Retry: testRetry, Log: testLogger(t), Repairs: repairs})
	c := buildlog.NewChunker(pub, buildlog.MaxChunkBytes, buildlog.ChunkDelay)
	var want bytes.Buffer
	w := c.Writer(buildlog.StreamStdout)
	for n := range 6 {
		p := fmt.Appendf(nil, "chunk %d ", n)
		p = append(p, bytes.Repeat([]byte{byte('a' + n)}, buildlog.MaxChunkBytes-len(p))...)
		want.Write(p)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := c.End()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WriteEnd(sum, streams.LogEnd{Status: streams.StatusTestPass}); err != nil {
		t.Fatal(err)
	}
	r, err := buildlog.Open(context.Background(), js, subj)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := r.WriteTo(&got); err != nil {
		t.Fatalf("read the log back: %v", err)
	}
	if r.End() == nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("read %d bytes (end marker %v), want the %d written", got.Len(), r.End() != nil, want.Len())
	}
	for cause, want := range map[string]float64{buildlog.RepairOutOfOrder: 1, buildlog.RepairFailed: 0} {
		var m dto.Metric
		if err := repairs.WithLabelValues(cause).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("repairs counted for %s: %v, want %v", cause, got, want)
		}
	}
}
