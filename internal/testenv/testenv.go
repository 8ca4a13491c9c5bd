// Package testenv starts the real servers tests need: an in-process NATS
// server with JetStream, a containerd daemon, a MinIO server. When one
// cannot be had the test is skipped, unless EJECTA_REQUIRE_ALL=1 (as CI
// sets it), in which case it fails: a missing dependency must not turn a
// CI run green by skipping.
package testenv

import (
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RequireAll reports whether missing dependencies fail tests.
func RequireAll() bool { return os.Getenv("EJECTA_REQUIRE_ALL") == "1" }

// Unavailable skips t, or fails it under EJECTA_REQUIRE_ALL=1, saying why.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("EJECTA_REQUIRE_ALL=1 and a dependency is missing: "+format, args...)
	}
	t.Skipf("dependency missing: "+format, args...)
}

// NATS is a JetStream-enabled server running in this process.
type NATS struct {
	Server *server.Server
	URL    string
}

// StartNATS starts an in-process NATS server with JetStream storing under
// a temporary directory; it is shut down when t ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return StartNATSAt(t, t.TempDir(), -1)
}

// StartNATSAt starts a server storing under dir on port (-1: any free port),
// so a test can stop it and start another on the same data.
func StartNATSAt(t testing.TB, dir string, port int) *NATS {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("new nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server not ready after 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &NATS{Server: s, URL: s.ClientURL()}
}

// Connect returns a client connection and a JetStream handle, closed when t ends.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatalf("connect %s: %v", n.URL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
