package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ejecta-build/ejecta/logtail"
)

// Bounds of one range of a log, in log bytes. The page asks for the head
// and each "load more" with the default.
const (
	defaultRangeBytes = 1 << 20
	maxRangeBytes     = 4 << 20
)

// maxRangeHTML bounds the HTML of one range. A log's HTML is a small
// multiple of its bytes, unless a crate wrote it to expand (every byte its
// own colour: tens of bytes of HTML each); past the bound the range ends
// as at its byte limit, after its last whole line or, with none, inside
// the line, and the next range carries on from there.
const maxRangeHTML = 2 << 20

// rangeReply is a range of a log: rendered lines plus where they lie.
type rangeReply struct {
	lines
	// Size is the log's length when the range was read; Complete says it
	// will not grow.
	Size     uint64 `json:"size"`
	Complete bool   `json:"complete"`
	// Partial says the last line goes on after End: the range was cut
	// inside a line longer than the limit, or the live log has not ended
	// that line yet.
	Partial bool `json:"partial"`
}

// logRange answers GET .../range?offset=N[&limit=N][&line=N] with the lines
// of the log from byte offset on, at most limit bytes of them, cut after the
// last whole line. line is the number of the line at offset when the caller
// knows it (from the range before); without it the lines before offset are
// counted. Read-only, live or stored alike. A range takes a log stream's
// slot while it is answered (server.go): each reads the log, from its first
// byte to count lines when line is not given, and renders it.
func (s *Server) logRange(w http.ResponseWriter, r *http.Request) {
	k, attempt, err := buildFromPath(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	if !q.Has("offset") {
		http.Error(w, "offset: missing; want a byte offset, 0 or more", http.StatusBadRequest)
		return
	}
	offset, err := offsetParam(q, "offset", 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	limit, err := offsetParam(q, "limit", defaultRangeBytes)
	if err == nil && (limit < 1 || limit > maxRangeBytes) {
		err = fmt.Errorf("limit %d: want 1 to %d bytes", limit, maxRangeBytes)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	line := 0
	if v := q.Get("line"); v != "" {
		if line, err = strconv.Atoi(v); err != nil || line < 1 {
			http.Error(w, fmt.Sprintf("line %q: want a line number from 1", v), http.StatusBadRequest)
			return
		}
	}

	ctx := r.Context()
	// Rendering is the work: at most a few ranges are rendered at once,
	// the others wait their turn (each holding its stream slot).
	select {
	case s.renders <- struct{}{}:
		defer func() { <-s.renders }()
	case <-ctx.Done():
		return
	}
	size, err := s.waitForLog(ctx, k, attempt)
	if err != nil {
		s.logError(w, r, "size of log", err)
		return
	}
	if offset > size.Bytes {
		http.Error(w, fmt.Sprintf("offset %d: past the end of the log (%d bytes)", offset, size.Bytes), http.StatusBadRequest)
		return
	}
	if line == 0 {
		n, err := s.countLines(r, offset)
		if err != nil {
			s.fail(w, "count lines of log", err)
			return
		}
		line = n + 1
	}
	lr, err := newRendererAt(offset, line, offset)
	if err != nil {
		s.fail(w, "log renderer", err)
		return
	}
	lr.maxLine = 0 // the window bounds the range's HTML, in a line or not
	win := &window{lr: lr, left: limit}
	res, err := s.logs.Copy(ctx, k, attempt, win, logtail.Options{From: offset})
	full := errors.Is(err, errWindowFull)
	if err != nil && !full {
		s.fail(w, "read log", err)
		return
	}
	reply := rangeReply{Size: max(size.Bytes, res.Offset), Complete: size.Complete || res.Complete}
	whole := !full && reply.Complete // the range reaches the end of a finished log
	if b, ok := lr.rest(); ok && (whole || len(win.got.HTML) == 0) {
		win.got.merge(b)
		reply.Partial = !whole
	}
	reply.lines = linesJSON(win.got)
	if len(win.got.HTML) == 0 {
		reply.First, reply.Offset, reply.End = line, offset, offset
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The lines are HTML: escaped for a script, each '<' would be six
	// bytes. The reply is application/json, never sniffed (secure).
	enc.SetEscapeHTML(false)
	if err := enc.Encode(reply); err != nil {
		s.fail(w, "encode range", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}

// countLines counts the newlines in the first n bytes of the log.
func (s *Server) countLines(r *http.Request, n uint64) (int, error) {
	k, attempt, _ := buildFromPath(r)
	lines, left := 0, n
	count := timedSink(func(p []byte, _ time.Time) error {
		if uint64(len(p)) >= left {
			lines += bytes.Count(p[:left], []byte{'\n'})
			left = 0
			return errWindowFull
		}
		lines += bytes.Count(p, []byte{'\n'})
		left -= uint64(len(p))
		return nil
	})
	if n == 0 {
		return 0, nil
	}
	_, err := s.logs.Copy(r.Context(), k, attempt, count, logtail.Options{})
	if err != nil && !errors.Is(err, errWindowFull) {
		return 0, err
	}
	return lines, nil
}

// errWindowFull stops a Copy once a range has its bytes.
var errWindowFull = errors.New("range complete")

// window renders at most left bytes, and about maxRangeHTML of HTML, then
// stops the copy.
type window struct {
	lr   *lineRenderer
	left uint64
	html int // HTML of the lines in got
	got  batch
}

func (w *window) Write(p []byte) (int, error) { return w.WriteTimed(p, time.Time{}) }

// WriteTimed renders p a piece at a time, and stops before a piece once
// the HTML so far, whole lines and the current one, has reached
// maxRangeHTML.
func (w *window) WriteTimed(p []byte, at time.Time) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.html+w.lr.fragBytes >= maxRangeHTML {
			return n, errWindowFull
		}
		piece := p[:min(len(p), renderPiece)]
		full := uint64(len(piece)) >= w.left
		if full {
			piece = piece[:w.left]
		}
		w.left -= uint64(len(piece))
		b := w.lr.write(piece, at)
		for _, h := range b.HTML {
			w.html += len(h)
		}
		w.got.merge(b)
		n += len(piece)
		p = p[len(piece):]
		if full {
			return n, errWindowFull
		}
	}
	return n, nil
}

// offsetParam reads a byte count from the query, def when absent, with an
// error naming the parameter.
func offsetParam(q url.Values, name string, def uint64) (uint64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a byte offset, 0 or more", name, v)
	}
	return n, nil
}
