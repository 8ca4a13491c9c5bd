package uploader

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"path"
	"strconv"

	terminal "github.com/buildkite/terminal-to-html/v3"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
)

// pageContentType is what the store records for a rendered log page.
const pageContentType = "text/html; charset=utf-8"

// page renders a log into an HTML page while the log streams, staging the
// page (staging: in memory while it is small, then in a temporary file) so
// that neither the log nor the page is held in memory whole. The first
// headBytes are rendered as they come; after that only the last tailBytes
// are kept, in a ring, and rendered at the end under a notice that links
// to the raw log. A browser then never has to lay out
// more than about headBytes+tailBytes of text, and the renderer's own state
// (which grows with an unterminated escape sequence) stays bounded too.
//
// Every byte of the log reaches the page through logtail.Sanitize, which
// keeps only text and colours (terminal-to-html makes OSC 8 and its own
// 1339 and 1338 sequences live links and images, with the crate's text and
// URL), then through terminal-to-html, which escapes HTML: a log holding
// "<script>" shows it as text.
type page struct {
	out     staging
	screen  *terminal.Screen
	in      io.Writer // the screen behind logtail.Sanitize
	head    int       // head bytes still to render as they come
	tail    ring
	omitted uint64 // bytes neither in the head nor in the tail
	err     error  // first write error; reported by close
}

// newPage starts a page staged under dir ("" for the system's) once it
// outgrows memory.
func newPage(dir string, headBytes, tailBytes int, title string, links pageLinks) *page {
	p := &page{out: staging{dir: dir}, head: headBytes, tail: ring{size: tailBytes}}
	p.screen, p.in = p.newScreen()
	p.printf(pageHeader, html.EscapeString(title), html.EscapeString(title), links.html())
	p.printf(`<pre class="term-container">`)
	return p
}

// pageLinks are the page's links to its sibling objects, relative to it.
type pageLinks struct{ raw, meta, plain string }

func (l pageLinks) html() string {
	s := fmt.Sprintf(`<a href="%s">raw log (zstd)</a> · <a href="%s">metadata</a>`,
		html.EscapeString(l.raw), html.EscapeString(l.meta))
	if l.plain != "" {
		s += fmt.Sprintf(` · <a href="%s">plain log</a>`, html.EscapeString(l.plain))
	}
	return s
}

func linksFor(k streams.BuildKey, attempt int, plain bool) pageLinks {
	l := pageLinks{raw: path.Base(streams.LogRawKey(k, attempt)), meta: path.Base(streams.LogMetaKey(k, attempt))}
	if plain {
		l.plain = path.Base(streams.LogObjectKey(k, attempt))
	}
	return l
}

// newScreen is a screen rendering into the page, and the writer in front
// of it that log bytes go to.
func (p *page) newScreen() (*terminal.Screen, io.Writer) {
	// maxLines bounds the screen; lines scrolling out of it are written to
	// the page at once.
	s, err := terminal.NewScreen(terminal.WithMaxSize(0, 300))
	if err != nil {
		// Only bad sizes fail, and these are constants.
		panic(err)
	}
	s.Timestamps = false
	s.ScrollOutFunc = func(line string) { p.printf("%s", line) }
	return s, logtail.Sanitize(s, true)
}

// Write renders the head and keeps the tail. It never fails: a staging
// error is kept for close, so the log's other objects are not held up.
func (p *page) Write(b []byte) (int, error) {
	n := len(b)
	if p.head > 0 {
		h := min(p.head, len(b))
		p.in.Write(b[:h])
		p.head -= h
		b = b[h:]
	}
	if len(b) > 0 {
		p.omitted += uint64(p.tail.write(b))
	}
	return n, nil
}

// truncated reports whether the page leaves part of the log out.
func (p *page) truncated() bool { return p.omitted > 0 }

// finish renders the tail and the footer and returns the staged page, to
// read from its start, and its size. note is shown at the end (the log's
// outcome).
func (p *page) finish(note string) (io.Reader, int64, error) {
	if p.omitted == 0 {
		// Everything fitted: the tail continues the head seamlessly.
		p.in.Write(p.tail.bytes())
		p.printf("%s</pre>\n", p.screen.AsHTMLWithTimestamps(false))
	} else {
		p.printf("%s</pre>\n", p.screen.AsHTMLWithTimestamps(false))
		// Start the tail at a line of its own rather than mid-line.
		tail := p.tail.bytes()
		if i := bytes.IndexByte(tail, '\n'); i >= 0 && i < len(tail)-1 {
			p.omitted += uint64(i + 1)
			tail = tail[i+1:]
		}
		p.printf(`<p class="omitted">… %s bytes omitted here. The page shows the first and last part of the log; the raw log has every byte.</p>`+"\n",
			strconv.FormatUint(p.omitted, 10))
		p.screen, p.in = p.newScreen()
		p.in.Write(tail)
		p.printf(`<pre class="term-container">%s</pre>`+"\n", p.screen.AsHTMLWithTimestamps(false))
	}
	p.printf(`<p class="note">%s</p>`+"\n</body>\n</html>\n", html.EscapeString(note))
	if p.err != nil {
		return nil, 0, fmt.Errorf("stage log page: %w", p.err)
	}
	r, size, err := p.out.finish()
	if err != nil {
		return nil, 0, fmt.Errorf("stage log page: %w", err)
	}
	return r, size, nil
}

// discard drops the staged page.
func (p *page) discard() { p.out.discard() }

func (p *page) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(&p.out, format, args...)
	}
}

// ring keeps the last size bytes written to it.
type ring struct {
	size int
	buf  []byte // made at the first write: most logs never reach the tail
	next int    // where the next byte goes
	full bool   // buf has wrapped at least once
}

// write adds b and returns how many bytes fell out of the ring.
func (r *ring) write(b []byte) int {
	size := r.size
	if r.buf == nil {
		r.buf = make([]byte, size)
	}
	held := r.next
	if r.full {
		held = size
	}
	dropped := max(0, held+len(b)-size)
	switch {
	case size == 0:
	case len(b) >= size:
		copy(r.buf, b[len(b)-size:])
		r.next, r.full = 0, true
	default:
		if n := copy(r.buf[r.next:], b); n < len(b) {
			copy(r.buf, b[n:])
			r.full = true
		}
		r.next = (r.next + len(b)) % size
		if r.next == 0 {
			r.full = true
		}
	}
	return dropped
}

// bytes returns what the ring holds, oldest first.
func (r *ring) bytes() []byte {
	if !r.full {
		return r.buf[:r.next]
	}
	out := make([]byte, 0, len(r.buf))
	return append(append(out, r.buf[r.next:]...), r.buf[:r.next]...)
}

// pageHeader takes the title twice and the links. Colours follow
// terminal-to-html's class names (term-fgNN, term-bgNN, term-fg1 bold...).
const pageHeader = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body { font-family: sans-serif; margin: 1em; }
.term-container { background: #171717; color: #c8c8c8; padding: 0.8em; white-space: pre-wrap; word-break: break-all; font-family: monospace; line-height: 1.3; }
.omitted, .note { font-style: italic; }
.term-fg1 { font-weight: bold; } .term-fg2 { opacity: 0.7; } .term-fg3 { font-style: italic; } .term-fg4 { text-decoration: underline; } .term-fg9 { text-decoration: line-through; }
.term-fg30 { color: #666; } .term-fg31 { color: #e10c02; } .term-fg32 { color: #5fd35f; } .term-fg33 { color: #e6c229; }
.term-fg34 { color: #5c9ded; } .term-fg35 { color: #c678dd; } .term-fg36 { color: #56b6c2; } .term-fg37 { color: #ddd; }
.term-fgi90 { color: #888; } .term-fgi91 { color: #ff5f5f; } .term-fgi92 { color: #87ff87; } .term-fgi93 { color: #ffd75f; }
.term-fgi94 { color: #87afff; } .term-fgi95 { color: #d787ff; } .term-fgi96 { color: #87d7d7; } .term-fgi97 { color: #fff; }
.term-bg40 { background: #333; } .term-bg41 { background: #a00; } .term-bg42 { background: #0a0; } .term-bg43 { background: #a50; }
.term-bg44 { background: #00a; } .term-bg45 { background: #a0a; } .term-bg46 { background: #0aa; } .term-bg47 { background: #aaa; }
</style>
</head>
<body>
<h1>%s</h1>
<p>%s</p>
`
