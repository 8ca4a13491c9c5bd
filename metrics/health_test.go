package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func serveHealth(t *testing.T, h *metrics.Health) string {
	t.Helper()
	mux := http.NewServeMux()
	h.Route(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// /readyz names each check and says which fail, with 503 while one does;
// the error itself (hosts, buckets) is not in the answer, which needs no
// token. /healthz answers as long as the process serves.
func TestReadyzNamesFailingChecks(t *testing.T) {
	var logs strings.Builder
	secret := errors.New("dial tcp minio.internal:9000: connection refused")
	failing := true
	h := metrics.NewHealth(zerolog.New(&logs),
		metrics.Check{Name: "nats", Probe: func(context.Context) error { return nil }},
		metrics.Check{Name: "store", Probe: func(context.Context) error {
			if failing {
				return secret
			}
			return nil
		}})
	url := serveHealth(t, h)

	if code, body := get(t, url+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}
	code, body := get(t, url+"/readyz")
	if code != http.StatusServiceUnavailable || body != "nats: ok\nstore: failing\n" {
		t.Errorf("/readyz with the store down: %d %q, want 503 naming store", code, body)
	}
	get(t, url+"/readyz") // the same failure again: logged once
	if n := strings.Count(logs.String(), "not ready"); n != 1 || !strings.Contains(logs.String(), "minio.internal") {
		t.Errorf("log %q: want the error logged once", logs.String())
	}
	failing = false
	if code, body := get(t, url+"/readyz"); code != http.StatusOK || body != "nats: ok\nstore: ok\n" {
		t.Errorf("/readyz with everything up: %d %q, want 200", code, body)
	}
	if !strings.Contains(logs.String(), "ready again") {
		t.Errorf("log %q: want the recovery logged", logs.String())
	}
}

// A check that hangs does not hang the prober: /readyz answers within the
// probe timeout, and says the check fails.
func TestReadyzBoundsAHangingCheck(t *testing.T) {
	h := metrics.NewHealth(zerolog.Nop(), metrics.Check{Name: "containerd", Probe: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	url := serveHealth(t, h)
	start := time.Now()
	code, body := get(t, url+"/readyz")
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("/readyz took %s, want at most the probe timeout and a little", took)
	}
	if code != http.StatusServiceUnavailable || body != "containerd: failing\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
}

// The checks components use follow what they check: NATS connected, the
// streams there, the store answering.
func TestComponentChecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testenv.StartNATS(t)
	nc, js := srv.Connect(t)
	dir := filepath.Join(t.TempDir(), "store")
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	checks := []metrics.Check{metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st)}
	h := metrics.NewHealth(zerolog.Nop(), checks...)
	want := func(what string, failing ...string) {
		t.Helper()
		got := h.Probe(ctx)
		for _, c := range checks {
			if fails := got[c.Name] != nil; fails != strings.Contains(strings.Join(failing, " "), c.Name) {
				t.Errorf("%s: check %s failing = %v (%v), want failing: %v", what, c.Name, fails, got[c.Name], failing)
			}
		}
	}
	want("no streams yet", "streams")
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	want("all up")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	want("store directory gone", "store")
	srv.Server.Shutdown()
	srv.Server.WaitForShutdown()
	for nc.Status() == nats.CONNECTED && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // until the client notices
	}
	want("NATS down", "nats", "streams", "store")
}
