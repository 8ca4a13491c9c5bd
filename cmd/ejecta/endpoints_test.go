package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// The reporter and the uploaders record where the store is (the reporter
// the web UI too); the commands that read the store find it there unless
// --store says otherwise.
func TestComponentsRecordWhereTheStoreIs(t *testing.T) {
	ns := testenv.StartNATS(t)
	_, js := ns.Connect(t)
	dir := "file://" + t.TempDir()
	g := []string{"--nats", ns.URL, "--log-level", "error"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for _, args := range [][]string{
		{"uploader", "--store", dir, "--name", "u1"},
		{"reporter", "--store", dir, "--web-url", "https://ejecta.example.org"},
	} {
		go func() {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append(append([]string{}, g...), args...))
			done <- root.ExecuteContext(ctx)
		}()
	}
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("component: %v", err)
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, serr := streams.LookupEndpoint(ctx, js, streams.EndpointStore)
		w, werr := streams.LookupEndpoint(ctx, js, streams.EndpointWeb)
		if serr == nil && werr == nil {
			if s.URL != dir || w.URL != "https://ejecta.example.org" || !strings.HasPrefix(s.By, "uploader u1") && s.By != "reporter" {
				t.Fatalf("recorded store %+v, web %+v", s, w)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoints not recorded: %v, %v", serr, werr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := readerStore(ctx, js, ""); got != dir {
		t.Errorf("store without --store: %q, want the recorded %q", got, dir)
	}
	if got := readerStore(ctx, js, "file:///elsewhere"); got != "file:///elsewhere" {
		t.Errorf("store with --store: %q, want the flag's", got)
	}
	if got := farmWebURL(ctx, js); got != "https://ejecta.example.org" {
		t.Errorf("web UI: %q", got)
	}
	if _, err := run(t, append(g, "reporter", "--store", dir, "--web-url", "javascript:alert(1)")...); err == nil ||
		!strings.Contains(err.Error(), "--web-url") || exitCode(err) != 2 {
		t.Errorf("a bad --web-url: %v, want exit 2 naming it", err)
	}
	if _, err := run(t, append(g, "reporter", "--store", dir, "--whole-from-crates", "0")...); err == nil ||
		!strings.Contains(err.Error(), "--whole-from-crates") || exitCode(err) != 2 {
		t.Errorf("--whole-from-crates 0: %v, want exit 2 naming it", err)
	}
}

func TestUpWebURL(t *testing.T) {
	host, _ := os.Hostname()
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::1]:8080":     "http://[::1]:8080",
		":8080":          "http://" + host + ":8080",
		"0.0.0.0:9000":   "http://" + host + ":9000",
		"":               "",
	} {
		if got := upWebURL(addr); got != want {
			t.Errorf("upWebURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
