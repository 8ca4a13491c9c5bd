package uploader

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/rs/zerolog"
)

// slowStore reads its input slowly, like a congested link to S3.
type slowStore struct{ store.Store }

func (s slowStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	return s.Store.Put(ctx, key, slowReader{r}, size, ct)
}

type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.r.Read(p[:min(len(p), 4096)])
}

// Stopping mid-upload returns promptly, stores nothing and gives the
// request back for another replica.
func TestShutdownGivesRequestBack(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp8", "slow")
	data := randomBytes(2<<20, 8)
	cs := chunks(data, buildlog.MaxChunkBytes)
	e.publishLog(k, 1, cs, endFor(data, len(cs)))

	u, err := New(fastConfig("u"), e.nc, slowStore{e.st}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	eventually(t, 5*time.Second, "upload started", func() bool {
		return e.uploadsConsumer().NumAckPending == 1
	})
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after its context ended")
	}

	if _, ok := object(t, e.st, k, 1); ok {
		t.Error("interrupted upload left an object")
	}
	if n := e.streamMsgs(streams.UploadsStream); n != 1 {
		t.Errorf("uploads stream holds %d requests, want the interrupted one", n)
	}
	if n := e.logMsgs(k, 1); n != uint64(len(cs)+1) {
		t.Errorf("log has %d messages on the stream, want all %d kept", n, len(cs)+1)
	}

	// Another replica takes the request over at once, not after AckWait.
	start := time.Now()
	e.run(fastConfig("v"), e.st)
	eventually(t, 10*time.Second, "request taken over", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	if took, ackWait := time.Since(start), e.uploadsConsumer().Config.AckWait; took >= ackWait {
		t.Errorf("took over after %s, not before the ack wait %s", took, ackWait)
	}
	if got, _ := object(t, e.st, k, 1); !bytes.Equal(got, data) {
		t.Errorf("the other replica stored %d bytes that differ from the %d published", len(got), len(data))
	}
}
