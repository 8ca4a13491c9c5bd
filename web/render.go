package web

import (
	"bytes"
	"strings"

	terminal "github.com/buildkite/terminal-to-html/v3"
)

// lineRenderer turns log bytes into one HTML line per log line, colours
// carried from one line to the next as a terminal would. It knows the log
// offset at which each line ends, so that a stream of lines can be resumed
// after the last one a viewer saw.
type lineRenderer struct {
	screen *terminal.Screen
	offset uint64 // bytes written so far
	lines  int    // lines completed so far
	frags  []string
	// partial is true when bytes were written after the last newline.
	partial bool
}

// forceScrollOut makes the screen hand over the line just ended: the screen
// scrolls a line out only when something is written below it, so a
// character is written and erased again on the next line (style untouched).
var forceScrollOut = []byte("X\r\x1b[2K")

func newLineRenderer() (*lineRenderer, error) {
	// A screen one line high scrolls each line out, rendered, and keeps the
	// style state for the next. Lines longer than its width wrap and come
	// out in pieces, which write joins again.
	s, err := terminal.NewScreen(terminal.WithMaxSize(0, 1), terminal.WithSize(4096, 1))
	if err != nil {
		return nil, err
	}
	lr := &lineRenderer{screen: s}
	s.Timestamps = false
	s.ScrollOutFunc = func(html string) { lr.frags = append(lr.frags, strings.TrimSuffix(html, "\n")) }
	return lr, nil
}

// batch is lines completed by one write.
type batch struct {
	First int      // number of the first line, from 1
	HTML  []string // one per line
	End   uint64   // log offset after the last line's newline
}

// write renders p and returns the lines it completed whose end lies after
// skip (those a resuming viewer has not seen).
func (lr *lineRenderer) write(p []byte, skip uint64) batch {
	var b batch
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lr.screen.Write(p)
			lr.offset += uint64(len(p))
			lr.partial = true
			break
		}
		lr.screen.Write(p[:i+1])
		lr.screen.Write(forceScrollOut)
		lr.offset += uint64(i + 1)
		lr.partial = false
		p = p[i+1:]
		html := strings.Join(lr.frags, "")
		lr.frags = lr.frags[:0]
		lr.lines++
		if lr.offset <= skip {
			continue
		}
		if b.First == 0 {
			b.First = lr.lines
		}
		b.HTML = append(b.HTML, html)
		b.End = lr.offset
	}
	return b
}

// rest renders the last line when it has no newline.
func (lr *lineRenderer) rest() (int, string, bool) {
	if !lr.partial {
		return 0, "", false
	}
	return lr.lines + 1, strings.Join(lr.frags, "") + lr.screen.AsHTMLWithTimestamps(false), true
}
