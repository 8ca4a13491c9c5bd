package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// TestBrowserAccessToken opens a live log's page in a real browser on a
// server with an access token: without it the browser sees the 401's
// text; with ?token= it lands on the same page without the token in its
// address, and the page's range request and event stream, which carry
// only the cookie, work; so do other pages afterwards.
func TestBrowserAccessToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := browser(t)
	e := start(t, web.Config{AccessToken: token})
	putExperiment(t, e.js, "e1")
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
		deadline := time.Now().Add(20 * time.Second)
		for eval(js) != "yes" {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s: %s at %s", what, eval(`document.body.innerText.slice(0, 300)`), eval(`location.href`))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+logPath)); err != nil {
		t.Fatal(err)
	}
	if text := eval(`document.body.innerText`); !strings.Contains(text, "needs its access token") {
		t.Fatalf("without the token the page says %q", text)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+logPath+"?token="+token)); err != nil {
		t.Fatal(err)
	}
	waitFor("the log, live", `document.getElementById("L1") && document.querySelector("#state").textContent === "live" ? "yes" : "no"`)
	if href := eval(`location.href`); href != e.url+logPath {
		t.Errorf("address %s, want %s: the same page without the token", href, e.url+logPath)
	}
	if c := eval(`document.cookie`); c != "" {
		t.Errorf("the page's script sees cookies %q; the token's is HttpOnly", c)
	}
	l.Write("line 2\n")
	waitFor("a line streamed after the visit", `document.getElementById("L2") ? "yes" : "no"`)
	l.End(streams.StatusTestPass)
	waitFor("the end", `document.querySelector("#state").textContent.startsWith("finished") ? "yes" : "no"`)

	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+"/")); err != nil {
		t.Fatal(err)
	}
	if text := eval(`document.body.innerText`); !strings.Contains(text, "e1") {
		t.Errorf("the experiments page with the cookie: %q", text)
	}
}

// TestBrowserAccessTokenFromAnotherSite follows a link with ?token= from
// a page of another site, as from a chat or a mail in a browser. The
// cookie is SameSite=Strict, which a browser does not send along a
// redirect that such a link started; the log page must still come up.
func TestBrowserAccessTokenFromAnotherSite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := browser(t)
	e := start(t, web.Config{AccessToken: token})
	l := buildlogtest.NewLog(t, e.js, build, 1)
	l.Write("line 1\n")
	// The UI is at 127.0.0.1; the other site is "localhost", another host
	// and so another site.
	target := e.url + logPath + "?token=" + token
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><a id="go" href="%s">the log</a>`, html.EscapeString(target))
	}))
	t.Cleanup(other.Close)
	link := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#go")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " | " + (document.getElementById("L1") ? "L1" : document.body.innerText.slice(0, 200))`))
		if err == nil && s == e.url+logPath+" | L1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after following the link: %s (%v), want the log page without the token", s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// End the build, which ends the page's event stream, before the server
	// stops (the browser outlives it).
	l.End(streams.StatusTestPass)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#state").textContent`))
		if err == nil && strings.HasPrefix(s, "finished") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %q (%v), want the end of the build", s, err)
		}
	}
}
