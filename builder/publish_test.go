package builder

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/streams"
)

// A message the server can never take is an error at once, not retried
// for ever with the slot waiting; a full stream is waited out as before
// (TestBackpressure...).
func TestPublishRetryGivesUpOnTooLarge(t *testing.T) {
	_, js := startJetStream(t, streams.DefaultConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg(streams.ResultSubject(streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}, 1))
	m.Data = []byte(strings.Repeat("x", 2<<20))
	start := time.Now()
	err := publishRetry(ctx, js, m, defaultBackoff, testLogger(t))
	if err == nil || !tooLarge(err) || ctx.Err() != nil {
		t.Fatalf("publish of 2 MiB: %v after %s; want a size error at once", err, time.Since(start))
	}
}
