package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/logtail"
)

// logEvents streams a log as Server-Sent Events:
//
//	event: lines   data {"first": N, "offset": N, "html": [...], "times": [...]}   id: log offset after these lines
//	event: end     data {"status": "...", "bytes": N}
//	event: failure data {"error": "..."}
//	: ping         every KeepAlive, so that proxies keep a quiet stream open
//
// The stream starts at the first line that starts at or after ?from= (a
// byte offset, default 0), or at most ?tail= bytes before the end of the
// log as it is now when that is later: the page shows the head of a big log
// from the range endpoint and follows the tail here. A reconnecting browser
// sends the last id it saw in Last-Event-ID, and the stream resumes after
// it. The log is read from its first byte either way, because line numbers
// depend on everything before; lines before the start are counted, not
// rendered.
//
// The stream ends after Config.MaxStreamLifetime, without an end event;
// the browser's EventSource then reconnects by itself with Last-Event-ID.
//
// A log that does not exist yet is waited for up to Config.LogWait, then
// answered with 404 (to which a browser's EventSource gives up rather than
// reconnecting).
func (s *Server) logEvents(w http.ResponseWriter, r *http.Request) {
	k, attempt, err := buildFromPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	start, err := offsetParam(q, "from", 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tail, err := offsetParam(q, "tail", 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("Last-Event-ID")
	if id != "" {
		if start, err = strconv.ParseUint(id, 10, 64); err != nil {
			http.Error(w, fmt.Sprintf("Last-Event-ID %q: want a log offset", id), http.StatusBadRequest)
			return
		}
	}
	size, err := s.waitForLog(r.Context(), k, attempt)
	if err != nil {
		s.logError(w, r, "size of log", err)
		return
	}
	if id == "" && tail > 0 && size.Bytes > tail {
		start = max(start, size.Bytes-tail)
	}
	lr, err := newLineRenderer(start)
	if err != nil {
		s.fail(w, "log renderer", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	ev := &eventWriter{w: w, rc: http.NewResponseController(w)}
	// The connection may serve another request after this stream.
	defer ev.rc.SetWriteDeadline(time.Time{})
	ev.comment("stream of " + k.String())

	// A stream ends at its lifetime, cleanly: the browser reconnects with
	// the id of the last lines it got and carries on from there, and the
	// slot and the ordered consumer this stream held are taken afresh, so
	// a page left open all week holds neither all week.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.MaxStreamLifetime)
	pinging := make(chan struct{})
	go func() {
		defer close(pinging)
		ev.keepAlive(ctx, s.cfg.KeepAlive)
	}()
	// No ping may be written once the handler has returned.
	defer func() { cancel(); <-pinging }()

	send := func(b batch) error {
		if len(b.HTML) == 0 {
			return nil
		}
		return ev.send("lines", strconv.FormatUint(b.End, 10), linesJSON(b))
	}
	sink := timedSink(func(p []byte, at time.Time) error { return send(lr.write(p, at)) })
	res, err := s.logs.Copy(ctx, k, attempt, sink, logtail.Options{Follow: true})
	switch {
	case err != nil && r.Context().Err() != nil:
		return // the client left
	case err != nil && ctx.Err() != nil:
		s.log.Debug().Str("build", k.String()).Dur("lifetime", s.cfg.MaxStreamLifetime).Msg("log stream reached its lifetime")
		return // lines cut at the lifetime follow on the next stream
	case err != nil:
		ev.send("failure", "", map[string]string{"error": err.Error()})
		return
	}
	if b, ok := lr.rest(); ok {
		send(b)
	}
	end := map[string]any{"status": "stored", "bytes": res.Offset}
	if res.End != nil {
		end["status"] = res.End.Status
	}
	ev.send("end", "", end)
}

// lines is a batch as the page's script reads it, in events and ranges.
type lines struct {
	First  int      `json:"first"`
	Offset uint64   `json:"offset"`
	End    uint64   `json:"end"`
	HTML   []string `json:"html"`
	// Times are the lines' times, RFC 3339 UTC, "" where not known; absent
	// when no line has one (a stored log).
	Times []string `json:"times,omitempty"`
}

func linesJSON(b batch) lines {
	l := lines{First: b.First, Offset: b.Offset, End: b.End, HTML: b.HTML}
	for i, t := range b.Times {
		if t.IsZero() {
			continue
		}
		if l.Times == nil {
			l.Times = make([]string, len(b.Times))
		}
		l.Times[i] = t.UTC().Format(time.RFC3339Nano)
	}
	if l.HTML == nil {
		l.HTML = []string{}
	}
	return l
}

// timedSink adapts a function to buildlog.TimedWriter: chunks from the
// stream come with their time, bytes from the store without.
type timedSink func(p []byte, at time.Time) error

func (f timedSink) Write(p []byte) (int, error) { return f.WriteTimed(p, time.Time{}) }

func (f timedSink) WriteTimed(p []byte, at time.Time) (int, error) {
	if err := f(p, at); err != nil {
		return 0, err
	}
	return len(p), nil
}

// frameWriteTimeout bounds the write of one SSE frame: a reader that has
// stopped reading (a suspended laptop, a stalled proxy) fills the socket's
// buffers and then holds a stream, and its ordered consumer, until this
// deadline ends it.
const frameWriteTimeout = 30 * time.Second

// eventWriter writes SSE frames; pings and events come from two goroutines.
type eventWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (e *eventWriter) send(event, id string, data any) error {
	js, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", event, err)
	}
	frame := "event: " + event + "\n"
	if id != "" {
		frame += "id: " + id + "\n"
	}
	frame += "data: " + string(js) + "\n\n"
	return e.write(frame)
}

func (e *eventWriter) comment(s string) error { return e.write(": " + s + "\n\n") }

func (e *eventWriter) write(frame string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.rc.SetWriteDeadline(time.Now().Add(frameWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := e.w.Write([]byte(frame)); err != nil {
		return err
	}
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (e *eventWriter) keepAlive(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if e.comment("ping") != nil {
				return
			}
		}
	}
}
