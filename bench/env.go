package bench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// farm is one benchmark's NATS server with ejecta's streams.
type farm struct {
	t    testing.TB
	nats *testenv.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
}

func newFarm(t testing.TB) *farm {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatalf("create ejecta's streams: %v", err)
	}
	return &farm{t: t, nats: n, nc: nc, js: js}
}

// quiet is a logger for components run in the benchmark's own process:
// warnings and errors only, to the test log.
func quiet(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

// run runs a component until the benchmark ends.
func run(t testing.TB, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v", what, err)
		}
	})
}

// waitUntil polls cond every few milliseconds until it holds, and returns
// when it did; it fails the benchmark after within.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("bench: after %s still waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Now()
}

// exists reports whether key is in st.
func exists(st store.Store, key string) bool {
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		return false
	}
	rc.Close()
	return true
}

// drained reports whether a work-queue consumer has nothing left: nothing
// pending and nothing delivered but unacknowledged.
func drained(js jetstream.JetStream, stream, consumer string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Consumer > 0
}

// size formats n as a short count: 1k, 100k, 1M.
func size(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
