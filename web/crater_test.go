package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// A crater report's page fetches <log>/log.txt relative to the report,
// <log> as results.json holds it: under the report's crater/ the UI serves
// each log, plain, whatever its toolchain's name needs encoding.
func TestCraterLogServed(t *testing.T) {
	e := start(t, web.Config{})
	putExperiment(t, e.js, "e1")
	for _, tc := range []string{"stable", "nightly-2026-12-01", "/opt/rust+stage2"} {
		text := "log of foo on " + tc + "\n\x1b[31merror\x1b[0m\n"
		key := streams.ExperimentPrefix("e1") + craterview.Dir + craterview.LogKey(tc, "foo", "1.0.0+build.5")
		if err := e.st.Put(context.Background(), key, strings.NewReader(text), int64(len(text)), ""); err != nil {
			t.Fatal(err)
		}
		u := e.url + "/experiments/e1/report/" + craterview.Dir + craterview.LogPath(tc, "foo", "1.0.0+build.5") + "/log.txt"
		resp, body := get(t, u)
		if resp.StatusCode != 200 || body != text || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %s %s %q, want the log, plain", u, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
}
