package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// TestBrowserResumesRefusedAndExpiredStreams opens a live log's page in a
// real browser while the server's only stream slot is taken: the page's
// stream is refused (429), which EventSource does not retry, and the page
// says so and opens it again once the slot is free. From then on the
// server ends each stream after a second; EventSource reconnects with
// Last-Event-ID. Lines published meanwhile all appear once, in order.
func TestBrowserResumesRefusedAndExpiredStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := browser(t)
	var streamsOpened atomic.Int32
	e := startWrapped(t, web.Config{MaxStreams: 1, MaxStreamLifetime: time.Second}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/events") {
				streamsOpened.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	l := buildlogtest.NewLog(t, e.js, build, 1)
	l.Write("line 1\n")

	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	waitFor := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for eval(js) != "yes" {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s: %s lines, state %q", what,
					eval(`String(document.querySelectorAll("#log .line").length)`), eval(`document.querySelector("#state").textContent`))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	held := openStream(t, http.DefaultClient, e.url, "")
	if held.status != http.StatusOK {
		t.Fatalf("first stream: %d %s", held.status, held.body)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+logPath)); err != nil {
		t.Fatal(err)
	}
	waitFor("that its stream was refused", `document.querySelector("#state").textContent.startsWith("disconnected; trying again") ? "yes" : "no"`)
	held.resp.Body.Close()
	waitFor("its stream opened again", `document.querySelector("#state").textContent === "live" ? "yes" : "no"`)

	const n = 16
	for i := 2; i <= n; i++ {
		l.Write(fmt.Sprintf("line %d\n", i))
		time.Sleep(400 * time.Millisecond)
	}
	waitFor("every line", fmt.Sprintf(`document.getElementById("L%d") ? "yes" : "no"`, n))
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("L%d line %d", i, i))
	}
	got := eval(`Array.from(document.querySelectorAll("#log .line")).map(e => e.id + " " + e.querySelector(".text").textContent).join("|")`)
	if got != strings.Join(want, "|") {
		t.Errorf("lines on the page:\n%s\nwant each once, in order:\n%s", got, strings.Join(want, "|"))
	}
	// The held stream, the refused one, the one opened again, and at least
	// one the browser reconnected after the lifetime.
	t.Logf("%d streams opened", streamsOpened.Load())
	if o := streamsOpened.Load(); o < 4 {
		t.Errorf("%d streams opened, want at least 4", o)
	}
	l.End(streams.StatusTestPass)
	waitFor("the end", `document.querySelector("#state").textContent.startsWith("finished") ? "yes" : "no"`)
}
