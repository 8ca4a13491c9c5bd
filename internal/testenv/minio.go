package testenv

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// MinIO is a MinIO server started for one test.
type MinIO struct {
	Endpoint  string // host:port, plain http
	AccessKey string
	SecretKey string
	srv       *minioServer
}

// minioServer is the process behind a MinIO; copies of a MinIO share it.
type minioServer struct {
	mu      sync.Mutex
	bin     string
	dir     string
	console string
	out     *tailBuffer
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StoreURL is the store.Open URL of bucket on this server. Credentials are
// not part of it: callers set EJECTA_S3_ACCESS_KEY and EJECTA_S3_SECRET_KEY
// with t.Setenv.
func (m MinIO) StoreURL(bucket string) string {
	return "s3://" + bucket + "?" + url.Values{
		"endpoint": {m.Endpoint},
		"secure":   {"false"},
	}.Encode()
}

const minioStartTimeout = 30 * time.Second

// StartMinIO runs `minio server` on a temporary directory and loopback
// ports until t ends. Without a minio binary in PATH or $(go env GOPATH)/bin
// the test is skipped (see Unavailable).
func StartMinIO(t testing.TB) MinIO {
	t.Helper()
	bin := lookGoBin("minio")
	if bin == "" {
		Unavailable(t, "minio binary not in PATH nor in $(go env GOPATH)/bin "+
			"(go install github.com/minio/minio@latest)")
	}
	addr := freeAddr(t)
	m := MinIO{Endpoint: addr, AccessKey: "ejecta-test", SecretKey: "ejecta-test-secret",
		srv: &minioServer{bin: bin, dir: t.TempDir(), console: freeAddr(t), out: &tailBuffer{max: 16 << 10}}}
	t.Cleanup(func() {
		m.srv.mu.Lock()
		defer m.srv.mu.Unlock()
		m.srv.stop()
		if t.Failed() {
			t.Logf("minio output (tail):\n%s", m.srv.out)
		}
	})
	m.Start(t)
	return m
}

// Stop kills the server, as an outage would; Start brings it back on the
// same address and data. A test uses them to check what survives an outage.
func (m MinIO) Stop(t testing.TB) {
	t.Helper()
	m.srv.mu.Lock()
	defer m.srv.mu.Unlock()
	m.srv.stop()
}

// Start starts the server (again) and waits until it serves requests.
func (m MinIO) Start(t testing.TB) {
	t.Helper()
	s := m.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "server", s.dir, "--address", m.Endpoint, "--console-address", s.console)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := waitLive(m.Endpoint, exited); err != nil {
		t.Fatalf("minio on %s: %v\noutput (tail):\n%s", m.Endpoint, err, s.out)
	}
}

// stop kills the process, if running, and waits for it; s.mu is held.
func (s *minioServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// freeAddr picks a loopback port nobody listens on. Another process could
// take it before minio does; that shows as a start-up failure, not a hang.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitLive polls MinIO's liveness endpoint until it answers 200 with an
// initialised object layer, the process exits, or minioStartTimeout passes.
func waitLive(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), minioStartTimeout)
	defer cancel()
	health := "http://" + addr + "/minio/health/live"
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			// MinIO is "live" as soon as it listens, but answers S3 calls
			// with "Server not initialized yet" until its object layer is
			// up, which it flags in this header meanwhile.
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") == "" {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("minio exited before it was live")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// tailBuffer keeps the last max bytes written to it: enough to show why a
// server failed without keeping everything it ever printed.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if extra := w.buf.Len() - w.max; extra > 0 {
		w.buf.Next(extra)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
