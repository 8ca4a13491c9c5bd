package main

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
)

// lastLines keeps the last n lines written to it (and an unfinished one
// after them), for --tail N: it holds at most n lines, however long the
// log, in a ring.
type lastLines struct {
	ring    [][]byte
	next    int // where the next line goes
	full    bool
	partial []byte
}

func newLastLines(n int) *lastLines { return &lastLines{ring: make([][]byte, n)} }

func (l *lastLines) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			l.partial = append(l.partial, rest...)
			break
		}
		l.ring[l.next] = append(l.partial, rest[:i+1]...)
		l.partial = nil
		if l.next++; l.next == len(l.ring) {
			l.next, l.full = 0, true
		}
		rest = rest[i+1:]
	}
	return len(p), nil
}

// flushTo writes what l keeps to w, oldest first, and empties l. An
// unfinished last line counts as one of the n, as tail(1) counts it.
func (l *lastLines) flushTo(w io.Writer) error {
	lines := l.ring[:l.next]
	if l.full {
		lines = append(append([][]byte{}, l.ring[l.next:]...), l.ring[:l.next]...)
	}
	if len(l.partial) > 0 && len(lines) == len(l.ring) {
		lines = lines[1:]
	}
	for _, line := range append(lines, l.partial) {
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	clear(l.ring)
	l.next, l.full, l.partial = 0, false, nil
	return nil
}

// sinceFilter passes on only the log bytes written at or after cutoff, for
// --since D. Bytes read from the stream carry the time they were written
// (logtail's TimedWriter); a stored log's do not, so whether they pass is
// decided once, for the whole log, by stored.
type sinceFilter struct {
	next   io.Writer
	cutoff time.Time
	stored func() bool

	decided, pass bool
}

// WriteTimed passes p on, with its time, when it was written at or after
// the cutoff, or when its time is not known.
func (s *sinceFilter) WriteTimed(p []byte, at time.Time) (int, error) {
	if !at.IsZero() && at.Before(s.cutoff) {
		return len(p), nil
	}
	var err error
	if tw, ok := s.next.(buildlog.TimedWriter); ok {
		_, err = tw.WriteTimed(p, at)
	} else {
		_, err = s.next.Write(p)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// stamper begins each line with the time its first byte was written, for
// --timestamps; a line whose time is not known gets blanks as wide.
type stamper struct {
	next io.Writer
	mid  bool // inside a line: its stamp is written
}

// stampLayout is a stamp's layout; every stamp is as wide.
const stampLayout = "2006-01-02T15:04:05.000Z "

func (s *stamper) Write(p []byte) (int, error) { return s.WriteTimed(p, time.Time{}) }

func (s *stamper) WriteTimed(p []byte, at time.Time) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !s.mid {
			stamp := strings.Repeat(" ", len(stampLayout))
			if !at.IsZero() {
				stamp = at.UTC().Format(stampLayout)
			}
			if _, err := io.WriteString(s.next, stamp); err != nil {
				return 0, err
			}
			s.mid = true
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, s.mid = p[:i+1], false
		}
		if _, err := s.next.Write(line); err != nil {
			return 0, err
		}
		p = p[len(line):]
	}
	return n, nil
}

// Write handles bytes without a time: a stored log's.
func (s *sinceFilter) Write(p []byte) (int, error) {
	if !s.decided {
		s.decided, s.pass = true, s.stored == nil || s.stored()
	}
	if !s.pass {
		return len(p), nil
	}
	if _, err := s.next.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
