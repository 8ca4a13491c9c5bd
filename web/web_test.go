package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

var build = streams.BuildKey{Experiment: "e1", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly"}

const logPath = "/logs/e1/cfg-if/1.0.0/nightly/1"

type env struct {
	js  jetstream.JetStream
	st  store.Store
	url string
}

func start(t *testing.T, cfg web.Config) env {
	t.Helper()
	return startWrapped(t, cfg, nil)
}

// startWrapped is start with the server's handler inside wrap (nil: none),
// for a test that watches the requests.
func startWrapped(t *testing.T, cfg web.Config, wrap func(http.Handler) http.Handler) env {
	t.Helper()
	_, js := testenv.StartNATS(t).Connect(t)
	buildlogtest.Ensure(t, js)
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr == "" {
		cfg.Addr = ":0"
	}
	if cfg.Poll == 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.LogWait == 0 {
		cfg.LogWait = 300 * time.Millisecond
	}
	srv, err := web.New(cfg, js, st, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return env{js: js, st: st, url: hs.URL}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func putExperiment(t *testing.T, js jetstream.JetStream, name string) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e := streams.Experiment{V: 1, Name: name, Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/src", Selection: "cfg-if", Crates: 1, Jobs: 2, Published: 2, CreatedAt: time.Now()}
	data, _ := json.Marshal(e)
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		t.Fatal(err)
	}
}

func TestPagesAndSecurityHeaders(t *testing.T) {
	e := start(t, web.Config{})
	putExperiment(t, e.js, "e1")
	buildlogtest.NewLog(t, e.js, build, 1).Write("compiling\n")

	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{`<a href="/experiments/e1">e1</a>`, "stable vs nightly", "check-only"}},
		{"/experiments/e1", 200, []string{"cfg-if", "<b>running</b>", `href="` + logPath + `"`}},
		{"/experiments/nope", 404, []string{`unknown experiment "nope"`}},
		{"/experiments/Bad.Name", 400, []string{`experiment name "Bad.Name"`}},
		{"/builders", 200, []string{"No live builder."}},
		{logPath, 200, []string{`data-events="` + logPath + `/events"`, `<script src="/assets/log.js"></script>`, `href="` + logPath + `/raw"`}},
		{"/logs/e1/cfg-if/1.0/nightly/1", 400, []string{`version "1.0"`}},
		{"/logs/e1/cfg-if/1.0.0/nightly/0", 400, []string{`attempt "0"`}},
		{"/logs/e1/cfg-if/1.0.0/nightly/2/raw", 404, []string{"no log on the stream or in the store"}},
		{"/assets/log.js", 200, []string{"EventSource"}},
		{"/nope", 404, nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, e.url+tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if strings.Contains(body, "<script>") {
				t.Error("inline script")
			}
		})
	}
}

func TestRawLogLiveAndStored(t *testing.T) {
	e := start(t, web.Config{})
	log := buildlogtest.NewLog(t, e.js, build, 1)
	log.Write("\x1b[31merror\x1b[0m: <oops>\n")
	if _, body := get(t, e.url+logPath+"/raw"); body != log.String() {
		t.Fatalf("live raw %q, want %q", body, log.String())
	}
	log.Write("done\n")
	log.End(streams.StatusBuildFail)
	log.StoreAndPurge(e.st)
	resp, body := get(t, e.url+logPath+"/raw")
	if body != log.String() || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("stored raw %q (%s), want %q", body, resp.Header.Get("Content-Type"), log.String())
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ Event, ID, Data string }

// readEvents sends every event (and ping comments, as event "ping") of an
// SSE response on a channel until the body ends.
func readEvents(t *testing.T, url, lastID string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return eventsOf(t, resp)
}

// eventsOf reads the events of an SSE response, as readEvents does.
func eventsOf(t *testing.T, resp *http.Response) <-chan sseEvent {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	ch := make(chan sseEvent, 100)
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": ping":
				ch <- sseEvent{Event: "ping"}
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			case line == "" && ev.Event != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent, skipPings bool) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.Event == "ping" && skipPings {
				continue
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
	}
}

type lines struct {
	First  int      `json:"first"`
	Offset uint64   `json:"offset"`
	HTML   []string `json:"html"`
	Times  []string `json:"times"`
}

func decodeLines(t *testing.T, ev sseEvent) lines {
	t.Helper()
	if ev.Event != "lines" {
		t.Fatalf("event %+v, want lines", ev)
	}
	var l lines
	if err := json.Unmarshal([]byte(ev.Data), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLogEventsStreamLiveResumeAndEnd(t *testing.T) {
	e := start(t, web.Config{KeepAlive: 50 * time.Millisecond})
	log := buildlogtest.NewLog(t, e.js, build, 1)
	log.Write("\x1b[31mred <b>\n")
	log.Write("still red\x1b[0m\npart")

	ch := readEvents(t, e.url+logPath+"/events", "")
	l := decodeLines(t, next(t, ch, true))
	if l.First != 1 || len(l.HTML) != 1 || l.HTML[0] != `<span class="term-fg31">red &lt;b&gt;</span>` {
		t.Fatalf("first lines %+v", l)
	}
	ev := next(t, ch, true)
	if l = decodeLines(t, ev); l.First != 2 || l.HTML[0] != `<span class="term-fg31">still red</span>` || ev.ID != "27" {
		t.Fatalf("second lines %+v id %s", l, ev.ID)
	}
	// A quiet build: pings keep the stream open.
	if ev := next(t, ch, false); ev.Event != "ping" {
		t.Fatalf("want a ping, got %+v", ev)
	}
	log.Write("ial line\n")
	if l = decodeLines(t, next(t, ch, true)); l.First != 3 || l.HTML[0] != "partial line" {
		t.Fatalf("live line %+v", l)
	}
	log.Write("no newline at the end")
	log.End(streams.StatusTestPass)
	if l = decodeLines(t, next(t, ch, true)); l.First != 4 || l.HTML[0] != "no newline at the end" {
		t.Fatalf("last line %+v", l)
	}
	if ev := next(t, ch, true); ev.Event != "end" || !strings.Contains(ev.Data, `"status":"test-pass"`) {
		t.Fatalf("end %+v", ev)
	}

	// A browser reconnecting after line 2 (id 27) gets lines 3 and 4 only,
	// now from the store, with their numbers.
	log.StoreAndPurge(e.st)
	ch = readEvents(t, e.url+logPath+"/events", "27")
	l = decodeLines(t, next(t, ch, true))
	if l.First != 3 || l.HTML[0] != "partial line" {
		t.Fatalf("resumed %+v", l)
	}
	if l = decodeLines(t, next(t, ch, true)); l.First != 4 {
		t.Fatalf("resumed last %+v", l)
	}
	if ev := next(t, ch, true); ev.Event != "end" || !strings.Contains(ev.Data, `"status":"stored"`) {
		t.Fatalf("end %+v", ev)
	}

	req, _ := http.NewRequest("GET", e.url+logPath+"/events", nil)
	req.Header.Set("Last-Event-ID", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: status %d", resp.StatusCode)
	}
	_ = fmt.Sprint()
}
