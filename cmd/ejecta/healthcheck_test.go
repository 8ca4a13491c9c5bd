package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// healthcheck exits 0 on a 200 and prints the answer; on anything else it
// fails with the status and what the component said (which checks fail).
func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("nats: ok\nstore: failing\n"))
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	if out, err := run(t, "healthcheck", srv.URL+"/healthz"); err != nil || out != "ok\n" {
		t.Errorf("healthcheck /healthz: %q, %v; want ok", out, err)
	}
	_, err := run(t, "healthcheck", srv.URL+"/readyz")
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: nats: ok\nstore: failing") {
		t.Errorf("healthcheck /readyz: %v, want the status and the failing check", err)
	}
	if _, err := run(t, "healthcheck", "http://127.0.0.1:1/readyz"); err == nil {
		t.Error("healthcheck of a closed port succeeded")
	}
}
