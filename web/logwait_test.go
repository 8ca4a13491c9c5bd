package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// TestMissingLogIs404AfterTheWait asks every log route (the page, the raw
// bytes, a range, the event stream) for logs that exist neither on the
// stream nor in the store: the next attempt of a stored log, a build
// beside a live one, an experiment with no logs. Each is a 404 once
// Config.LogWait has passed, not sooner and not much later; never a page
// or a stream that waits for as long as the client does.
func TestMissingLogIs404AfterTheWait(t *testing.T) {
	const wait = time.Second
	e := start(t, web.Config{LogWait: wait})
	stored := buildlogtest.NewLog(t, e.js, build, 1)
	stored.Write("done\n")
	stored.End(streams.StatusTestPass)
	stored.StoreAndPurge(e.st)
	running := build
	running.Toolchain = "stable"
	buildlogtest.NewLog(t, e.js, running, 1).Write("compiling\n")

	for _, base := range []string{
		"/logs/e1/cfg-if/1.0.0/nightly/2", // the stored log's next attempt
		"/logs/e1/cfg-if/1.0.0/stable/2",  // the live log's next attempt
		"/logs/e1/itoa/1.0.1/stable/1",    // a build with no log at all
		"/logs/e2/cfg-if/1.0.0/nightly/1", // an experiment with no log at all
	} {
		for _, route := range []string{"", "/raw", "/range?offset=0", "/events"} {
			t.Run(base+route, func(t *testing.T) {
				t.Parallel()
				c := http.Client{Timeout: wait + 10*time.Second}
				t0 := time.Now()
				resp, err := c.Get(e.url + base + route)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(t0)
				if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no log on the stream or in the store") {
					t.Errorf("%d %q, want 404 saying there is no log", resp.StatusCode, body)
				}
				if took < wait || took > wait+3*time.Second {
					t.Errorf("answered after %s, want after the %s wait and soon after it", took, wait)
				}
			})
		}
	}
	t.Run("existing logs at once", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{logPath + "/raw", "/logs/e1/cfg-if/1.0.0/stable/1/raw"} {
			t0 := time.Now()
			resp, body := get(t, e.url+path)
			if resp.StatusCode != http.StatusOK || time.Since(t0) > wait/2 {
				t.Errorf("%s: %d %q after %s, want 200 at once", path, resp.StatusCode, body, time.Since(t0))
			}
		}
	})
}

// TestLogThatAppearsDuringTheWaitIsServed opens the page and the event
// stream of a build that has not published its first chunk yet; the chunk
// comes within Config.LogWait, and both are served as for any live log.
func TestLogThatAppearsDuringTheWaitIsServed(t *testing.T) {
	e := start(t, web.Config{LogWait: 10 * time.Second})
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Get(e.url + logPath + "/events")
		answered <- answer{resp, err}
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case a := <-answered:
		t.Fatalf("answered before the log existed: %+v", a)
	default:
	}
	buildlogtest.NewLog(t, e.js, build, 1).Write("first line\n")
	var a answer
	select {
	case a = <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s of the first chunk")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	ch := eventsOf(t, a.resp)
	if l := decodeLines(t, next(t, ch, true)); l.First != 1 || len(l.HTML) != 1 || l.HTML[0] != "first line" {
		t.Fatalf("first lines %+v", l)
	}
	if resp, body := get(t, e.url+logPath); resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-events="`+logPath+`/events"`) {
		t.Fatalf("log page: %d\n%s", resp.StatusCode, body)
	}
}
