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
//	event: lines   data {"first": N, "html": [...]}   id: log offset after these lines
//	event: end     data {"status": "...", "bytes": N}
//	event: failure data {"error": "..."}
//	: ping         every KeepAlive, so that proxies keep a quiet stream open
//
// A reconnecting browser sends the last id it saw in Last-Event-ID; the log
// is rendered again from its first byte (colours and line numbers depend on
// everything before) and only the lines after that offset are sent.
func (s *Server) logEvents(w http.ResponseWriter, r *http.Request) {
	k, attempt, err := buildFromPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var skip uint64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if skip, err = strconv.ParseUint(id, 10, 64); err != nil {
			http.Error(w, fmt.Sprintf("Last-Event-ID %q: want a log offset", id), http.StatusBadRequest)
			return
		}
	}
	lr, err := newLineRenderer()
	if err != nil {
		s.fail(w, "log renderer", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	ev := &eventWriter{w: w, rc: http.NewResponseController(w)}
	ev.comment("stream of " + k.String())

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go ev.keepAlive(ctx, s.cfg.KeepAlive)

	sink := writerFunc(func(p []byte) error {
		b := lr.write(p, skip)
		if len(b.HTML) == 0 {
			return nil
		}
		return ev.send("lines", strconv.FormatUint(b.End, 10), map[string]any{"first": b.First, "html": b.HTML})
	})
	res, err := s.logs.Copy(ctx, k, attempt, sink, logtail.Options{Follow: true})
	if err != nil {
		if ctx.Err() == nil {
			ev.send("failure", "", map[string]string{"error": err.Error()})
		}
		return
	}
	if n, html, ok := lr.rest(); ok && lr.offset > skip {
		ev.send("lines", strconv.FormatUint(lr.offset, 10), map[string]any{"first": n, "html": []string{html}})
	}
	end := map[string]any{"status": "stored", "bytes": res.Offset}
	if res.End != nil {
		end["status"] = res.End.Status
	}
	ev.send("end", "", end)
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

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
