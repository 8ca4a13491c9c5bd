package buildlog_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
)

// A full LogsStream (discard-new) makes writers wait, and the waiting bytes
// arrive once room is made: back-pressure, not loss.
func TestLogBackPressure(t *testing.T) {
	cfg := streams.DefaultConfig()
	cfg.LogMaxBytes = 1 << 20 // the smallest Ensure accepts
	js := startJetStream(t, cfg)
	ctx := context.Background()
	subj := streams.LogSubject(testKey, 1)
	pub := buildlog.NewPublisher(ctx, js, subj, buildlog.PublisherConfig{Retry: testRetry, Log: testLogger(t)})
	c := buildlog.NewChunker(pub, buildlog.MaxChunkBytes, buildlog.ChunkDelay)
	w := c.Writer(buildlog.StreamStdout)

	// Fill the stream: each chunk costs its payload plus headers, so 1 MiB
	// of payload cannot all fit.
	var wrote bytes.Buffer
	done := make(chan error, 1)
	go func() {
		for i := range 40 {
			p := bytes.Repeat([]byte{byte('a' + i%26)}, buildlog.MaxChunkBytes)
			wrote.Write(p)
			if _, err := w.Write(p); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		t.Fatalf("40 chunks of 32 KiB went into a 1 MiB stream (err %v): no back-pressure", err)
	case <-time.After(time.Second):
	}
	logs, err := js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := logs.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := info.State.Msgs
	t.Logf("stream full at %d chunks, %d bytes; writer blocked", stored, info.State.Bytes)

	// An uploader would now store the log and purge it; do the same, and
	// collect what was stored so far.
	first, _ := buildlogtest.Chunks(t, js, subj, 500*time.Millisecond)
	if uint64(len(first)) != stored {
		t.Fatalf("read %d chunks, stream holds %d", len(first), stored)
	}
	if err := logs.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writer still blocked 10s after the purge")
	}
	sum, err := c.End()
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := buildlogtest.Chunks(t, js, subj, 500*time.Millisecond)
	all := buildlogtest.Sequence(t, append(first, rest...))
	if !bytes.Equal(all, wrote.Bytes()) || sum.Bytes != uint64(wrote.Len()) {
		t.Fatalf("read back %d bytes (summary %d), wrote %d", len(all), sum.Bytes, wrote.Len())
	}
}

// A publish refused by a stream that stays full gives up only when its
// context ends (one too large for any stream gives up at once:
// streams.TestPublishAckedGivesUpOnTooLarge).
func TestPublishGivesUpWithContext(t *testing.T) {
	cfg := streams.DefaultConfig()
	cfg.LogMaxBytes = 1 << 20
	js := startJetStream(t, cfg)
	// Another log fills the stream, and no uploader makes room.
	for range (1 << 20) / buildlog.MaxChunkBytes {
		if _, err := js.Publish(context.Background(), streams.LogSubject(testKey, 2), make([]byte, buildlog.MaxChunkBytes)); err != nil {
			break // full
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	pub := buildlog.NewPublisher(ctx, js, streams.LogSubject(testKey, 1), buildlog.PublisherConfig{Retry: testRetry, Log: testLogger(t)})
	chunk := buildlog.Chunk{Seq: 1, Stream: buildlog.StreamStdout, Data: make([]byte, buildlog.MaxChunkBytes)}
	start := time.Now()
	if err := pub.WriteChunk(chunk); err == nil {
		t.Fatal("publish to a full stream succeeded")
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("gave up after %s, before its context ended", took)
	}
}
