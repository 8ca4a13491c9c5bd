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
	// logtail.Sanitize, which keeps text and colours only (terminal-to-html
	// would make OSC 8 and its own 1339 and 1338 sequences links and
	// images, with the crate's text and URL), behind gate.
	in     io.Writer
	gate   *lineGate
	from   uint64
	offset uint64 // log offset of the next byte
	lines  int    // lines completed so far
	// frags are the pieces of the current line the screen scrolled out
	// (a line wider than the screen comes in several), fragBytes their
	// length.
	frags     []string
	fragBytes int
	// maxLine bounds the HTML of one line (maxLineHTML; 0: no bound).
	maxLine int
	// partial is true when bytes were written after the last newline.
	partial bool
	// rendering is true once a line at or after from has started.
	rendering bool
	lineStart uint64    // offset of the current line's first byte
	lineTime  time.Time // time of the chunk holding it
}

// maxLineHTML bounds the HTML of one line. A line a crate wrote to expand
// (every byte its own colour: tens of bytes of HTML each) would otherwise
// grow without bound until its newline came, held whole in memory and sent
// as one event. Past it the rest of the line is left out, with a note.
const maxLineHTML = 1 << 20

// renderPiece is how many bytes reach the screen at once, so that what a
// line has become is looked at often.
const renderPiece = 4 << 10

// lineCut ends a line whose HTML reached maxLineHTML.
const lineCut = " … (the rest of this line is longer than the page shows; the raw log has it)"

// lineGate passes the sanitized bytes on to the screen while the line is
// within its bound, and notes whether a newline went through.
type lineGate struct {
	screen  *terminal.Screen
	shut    bool
	newline bool
}

func (g *lineGate) Write(p []byte) (int, error) {
	if g.shut {
		return len(p), nil
	}
	if bytes.IndexByte(p, '\n') >= 0 {
		g.newline = true
	}
	return g.screen.Write(p)
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
	g := &lineGate{screen: s}
	lr := &lineRenderer{screen: s, in: logtail.Sanitize(g, true), gate: g, offset: offset, lines: line - 1, from: from,
		maxLine: maxLineHTML}
	s.Timestamps = false
	s.ScrollOutFunc = func(html string) {
		html = strings.TrimSuffix(html, "\n")
		lr.frags = append(lr.frags, html)
		lr.fragBytes += len(html)
	}
	return lr, nil
}

// feed writes p, part of one line and maybe its newline, to the screen, a
// piece at a time, and shuts the gate once the line is past its bound.
func (lr *lineRenderer) feed(p []byte) {
	for len(p) > 0 {
		if lr.maxLine > 0 && lr.fragBytes >= lr.maxLine {
			lr.gate.shut = true
		}
		n := min(len(p), renderPiece)
		lr.in.Write(p[:n])
		p = p[n:]
	}
}

// endLine hands over the line just ended, its HTML cut if it had to be.
func (lr *lineRenderer) endLine() string {
	if !lr.gate.newline {
		// The sanitizer keeps a newline inside a sequence to itself; the
		// screen still has to move on.
		lr.screen.Write([]byte{'\n'})
	}
	lr.screen.Write(forceScrollOut)
	html := strings.Join(lr.frags, "")
	if lr.gate.shut {
		html += lineCut
	}
	lr.frags, lr.fragBytes = lr.frags[:0], 0
	lr.gate.shut, lr.gate.newline = false, false
	return html
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
			lr.feed(p)
			lr.offset += uint64(len(p))
			lr.partial = true
			break
		}
		lr.feed(p[:i+1])
		lr.offset += uint64(i + 1)
		lr.partial = false
		p = p[i+1:]
		html := lr.endLine()
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
	html := strings.Join(lr.frags, "") + lr.screen.AsHTMLWithTimestamps(false)
	if lr.gate.shut {
		html += lineCut
	}
	b.add(lr.lines+1, lr.lineStart, lr.offset, html, lr.lineTime)
	return b, true
}
