package streams

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// A message the server can never take is an error at once, not retried
// for ever with the caller waiting; a full stream is waited out (the
// builder's TestLogBackPressure).
func TestPublishAckedGivesUpOnTooLarge(t *testing.T) {
	_, js := testenv.StartNATS(t).Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ensure(ctx, js, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(ResultSubject(BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}, 1, AnonymousSender))
	m.Data = []byte(strings.Repeat("x", 2<<20))
	start := time.Now()
	p := backoff.Policy{First: 50 * time.Millisecond, Max: 2 * time.Second}
	_, err := PublishAcked(ctx, js, m, p, zerolog.New(zerolog.NewTestWriter(t)))
	if err == nil || !tooLarge(err) || ctx.Err() != nil {
		t.Fatalf("publish of 2 MiB: %v after %s; want a size error at once", err, time.Since(start))
	}
}
