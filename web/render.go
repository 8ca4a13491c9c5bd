package web

import (
	"bytes"
	"io"
	"strings"
	"time"

	terminal "github.com/buildkite/terminal-to-html/v3"

	"github.com/ejecta-build/ejecta/logtail"
)

// lineRenderer turns log bytes into one HTML line per log line, colours
// carried from one line to the next as a terminal would. It knows the log
// offset at which each line starts and ends, so that a stream of lines can
// be resumed after the last one a viewer saw, and the time of the chunk
// that held each line's first byte.
//
// Lines that start before from are only counted, not rendered: rendering
// is the expensive part, and a viewer of the tail of a 100 MB log needs the
// number of the lines before it, not their HTML. Colours set before from
// are not carried over.
type lineRenderer struct {
	screen *terminal.Screen
	// in is what log bytes are written to: the screen behind
	// logtail.Sanitize, which keeps text and colours only. terminal-to-html
	// would make OSC 8 and its own 1339 and 1338 sequences links and
	// images, with the crate's text and URL.
	in     io.Writer
	from   uint64
	offset uint64 // log offset of the next byte
	lines  int    // lines completed so far
	frags  []string
	// partial is true when bytes were written after the last newline.
	partial bool
	// rendering is true once a line at or after from has started.
	rendering bool
	lineStart uint64    // offset of the current line's first byte
	lineTime  time.Time // time of the chunk holding it
}

// forceScrollOut makes the screen hand over the line just ended: the screen
// scrolls a line out only when something is written below it, so a
// character is written and erased again on the next line (style untouched).
var forceScrollOut = []byte("X\r\x1b[2K")

// newLineRenderer renders a log read from its first byte, lines starting
// before from counted only.
func newLineRenderer(from uint64) (*lineRenderer, error) {
	return newRendererAt(0, 1, from)
}

// newRendererAt renders a log read from offset on, where line number line
// starts (or continues); lines starting before from are counted only.
func newRendererAt(offset uint64, line int, from uint64) (*lineRenderer, error) {
	// A screen one line high scrolls each line out, rendered, and keeps the
	// style state for the next. Lines longer than its width wrap and come
	// out in pieces, which write joins again.
	s, err := terminal.NewScreen(terminal.WithMaxSize(0, 1), terminal.WithSize(4096, 1))
	if err != nil {
		return nil, err
	}
	lr := &lineRenderer{screen: s, in: logtail.Sanitize(s, true), offset: offset, lines: line - 1, from: from}
	s.Timestamps = false
	s.ScrollOutFunc = func(html string) { lr.frags = append(lr.frags, strings.TrimSuffix(html, "\n")) }
	return lr, nil
}

// batch is lines completed by one write.
type batch struct {
	First  int         // number of the first line, from 1
	Offset uint64      // log offset of the first line's first byte
	HTML   []string    // one per line
	Times  []time.Time // one per line; zero where not known
	End    uint64      // log offset after the last line's newline
}

func (b *batch) add(line int, start, end uint64, html string, at time.Time) {
	if len(b.HTML) == 0 {
		b.First, b.Offset = line, start
	}
	b.HTML = append(b.HTML, html)
	b.Times = append(b.Times, at)
	b.End = end
}

// merge appends the lines of o, which follow b's.
func (b *batch) merge(o batch) {
	if len(o.HTML) == 0 {
		return
	}
	if len(b.HTML) == 0 {
		b.First, b.Offset = o.First, o.Offset
	}
	b.HTML = append(b.HTML, o.HTML...)
	b.Times = append(b.Times, o.Times...)
	b.End = o.End
}

// write renders p, whose first byte the task wrote at time at (zero: not
// known), and returns the lines it completed.
func (lr *lineRenderer) write(p []byte, at time.Time) batch {
	var b batch
	for len(p) > 0 {
		if !lr.rendering {
			if !lr.partial && lr.offset >= lr.from {
				lr.rendering = true
				continue
			}
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				lr.offset += uint64(len(p))
				lr.partial = true
				break
			}
			lr.offset += uint64(i + 1)
			lr.lines++
			lr.partial = false
			p = p[i+1:]
			continue
		}
		if !lr.partial {
			lr.lineStart, lr.lineTime = lr.offset, at
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lr.in.Write(p)
			lr.offset += uint64(len(p))
			lr.partial = true
			break
		}
		lr.in.Write(p[:i+1])
		lr.screen.Write(forceScrollOut)
		lr.offset += uint64(i + 1)
		lr.partial = false
		p = p[i+1:]
		html := strings.Join(lr.frags, "")
		lr.frags = lr.frags[:0]
		lr.lines++
		b.add(lr.lines, lr.lineStart, lr.offset, html, lr.lineTime)
	}
	return b
}

// rest renders the line begun after the last newline, if any: the last
// line of a log that does not end with one, or a line cut by a range.
func (lr *lineRenderer) rest() (batch, bool) {
	var b batch
	if !lr.partial || !lr.rendering {
		return b, false
	}
	b.add(lr.lines+1, lr.lineStart, lr.offset, strings.Join(lr.frags, "")+lr.screen.AsHTMLWithTimestamps(false), lr.lineTime)
	return b, true
}
