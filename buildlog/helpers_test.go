package buildlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

var testKey = streams.BuildKey{Experiment: "exp", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}

// testRetry is the builder's retry policy for its log.
var testRetry = backoff.Policy{First: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: backoff.Jitter{Low: 0.5, High: 1}}

// startJetStream starts an in-process server with every ejecta stream.
func startJetStream(t *testing.T, cfg streams.Config) jetstream.JetStream {
	t.Helper()
	_, js := testenv.StartNATS(t).Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	return js
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

func newTestLog(t *testing.T, ctx context.Context) (*buildlog.Chunker, *buildlog.Publisher, jetstream.JetStream, string) {
	js := startJetStream(t, streams.DefaultConfig())
	subj := streams.LogSubject(testKey, 1)
	pub := buildlog.NewPublisher(ctx, js, subj, buildlog.PublisherConfig{Retry: testRetry, Log: testLogger(t)})
	c := buildlog.NewChunker(pub, buildlog.MaxChunkBytes, buildlog.ChunkDelay)
	// No publish may still wait for its ack, and log, once the test and
	// its server are gone.
	t.Cleanup(func() { c.End() })
	return c, pub, js, subj
}

// endAndRead ends the log c writes through pub, publishes its end marker
// and reads the log back from subj as a reader would.
func endAndRead(t *testing.T, c *buildlog.Chunker, pub *buildlog.Publisher, js jetstream.JetStream, subj string, wait time.Duration) ([]buildlog.Chunk, *streams.LogEnd) {
	t.Helper()
	sum, err := c.End()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WriteEnd(sum, streams.LogEnd{Status: streams.StatusTestPass}); err != nil {
		t.Fatal(err)
	}
	return buildlogtest.Chunks(t, js, subj, wait)
}
