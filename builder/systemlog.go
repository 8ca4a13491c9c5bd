package builder

import (
	"bytes"
	"io"
)

// systemPrefix starts every line the builder itself writes into a build
// log, so readers (people, the report's log viewer) can tell the builder's
// narration from the compiler's output even in a raw download.
const systemPrefix = "[ejecta] "

// prefixer writes prefix at the start of every line written through it.
// Like Buildkite's process.Prefixer, it keeps state across writes so a
// line written in pieces gets one prefix.
type prefixer struct {
	w         io.Writer
	prefix    []byte
	lineStart bool
}

func newPrefixer(w io.Writer, prefix string) *prefixer {
	return &prefixer{w: w, prefix: []byte(prefix), lineStart: true}
}

func (p *prefixer) Write(b []byte) (int, error) {
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

// rootfsDescriber is a Runner that can say what its tasks see as "/"
// (*sandbox.Containerd can). It is not part of Runner so that a runner
// which cannot tell need not pretend.
type rootfsDescriber interface {
	Rootfs() string
}

// rootfs is what the sandbox line of a build log says about the task's
// root: the runner's own words, or that it did not say.
// hidden are the host paths the runner hides from builds, if it tells.
func (b *Builder) hidden() []string {
	if d, ok := b.run.(interface{ Hidden() []string }); ok {
		return d.Hidden()
	}
	return nil
}

// hardening says what else isolates builds, if the runner tells.
func (b *Builder) hardening() string {
	if d, ok := b.run.(interface{ Hardening() string }); ok {
		return d.Hardening()
	}
	return "isolation as the runner provides it"
}

func (b *Builder) rootfs() string {
	if d, ok := b.run.(rootfsDescriber); ok {
		if s := d.Rootfs(); s != "" {
			return s
		}
	}
	return "root as the runner provides it"
}
