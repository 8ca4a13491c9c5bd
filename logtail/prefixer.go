package logtail

import (
	"bytes"
	"io"
)

// Prefixer writes whole lines to w, each starting with prefix. A partial
// line is held until its newline comes (or Flush), so that the lines of
// several builds written to the same w interleave without mixing.
type Prefixer struct {
	w       io.Writer
	prefix  []byte
	partial []byte
}

// NewPrefixer returns a Prefixer of lines written to w.
func NewPrefixer(w io.Writer, prefix string) *Prefixer {
	return &Prefixer{w: w, prefix: []byte(prefix)}
}

// Write writes every complete line of p (with what was held before it).
func (p *Prefixer) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			return n, nil
		}
		line := make([]byte, 0, len(p.prefix)+len(p.partial)+i+1)
		line = append(append(append(line, p.prefix...), p.partial...), b[:i+1]...)
		p.partial = p.partial[:0]
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		b = b[i+1:]
	}
}

// Flush writes a held partial line, ended with a newline.
func (p *Prefixer) Flush() error {
	if len(p.partial) == 0 {
		return nil
	}
	_, err := p.Write([]byte("\n"))
	return err
}
