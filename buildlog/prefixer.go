package buildlog

import (
	"bytes"
	"io"
)

// SystemPrefix starts every line the builder itself writes into a build
// log, so readers (people, the report's log viewer) can tell the builder's
// narration from the compiler's output even in a raw download.
const SystemPrefix = "[ejecta] "

// Prefixer writes prefix at the start of every line written through it.
// Like Buildkite's process.Prefixer, it keeps state across writes so a
// line written in pieces gets one prefix.
type Prefixer struct {
	w         io.Writer
	prefix    []byte
	lineStart bool
}

// NewPrefixer returns a Prefixer writing to w.
func NewPrefixer(w io.Writer, prefix string) *Prefixer {
	return &Prefixer{w: w, prefix: []byte(prefix), lineStart: true}
}

func (p *Prefixer) Write(b []byte) (int, error) {
	n := len(b)
	// Build the prefixed text first and write it once: one write is one
	// chunk-sized unit for the chunker, not a prefix chunk and a text chunk.
	var out bytes.Buffer
	for len(b) > 0 {
		if p.lineStart {
			out.Write(p.prefix)
			p.lineStart = false
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out.Write(b)
			break
		}
		out.Write(b[:i+1])
		b = b[i+1:]
		p.lineStart = true
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return n, nil
}
