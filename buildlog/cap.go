package buildlog

import (
	"fmt"
	"io"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Cap keeps a build log within a size, as crater's 5 MB cap does, but
// without losing the end, where the error usually is: the first head bytes
// of the attempt's task output are logged as they come; past that, only
// the last tail bytes of a step's output are kept, and they are logged when
// the step ends, after a system line saying how many bytes were left out.
// The diagnostics and the no-output watchdog still see every byte, so the
// verdict does not depend on the cap. A task that prints gigabytes (crater
// once stored a 1.36 GB log) costs the builder at most tail bytes of memory
// and the farm at most head bytes per log.
//
// Each output stream's writer is wrapped (Wrap); the streams share the cap.
type Cap struct {
	sys io.Writer // system lines

	mu      sync.Mutex // stdout and stderr are copied by goroutines of their own
	headMax uint64     // task bytes logged as they come
	room    uint64     // of headMax, not yet used
	tailMax int
	tail    []tailSegment // the step's output past the head, at most tailMax bytes
	tailLen int
	omitted uint64 // bytes of the step's output past the head not in tail
	// counted adds the bytes left out of a log (a metric).
	counted prometheus.Counter
}

// tailSegment is kept output of one stream.
type tailSegment struct {
	w    *capWriter
	data []byte
}

// logTailMax bounds the tail kept per step: enough for cargo's last errors.
const logTailMax = 1 << 20

// NewCap caps the task output written through it at maxBytes (0 or less:
// no cap); the tail kept per step is a quarter of it, at most logTailMax.
// Its system lines go to sys; counted adds up the bytes left out.
func NewCap(sys io.Writer, maxBytes int64, counted prometheus.Counter) *Cap {
	c := &Cap{sys: sys, counted: counted}
	if maxBytes > 0 {
		c.tailMax = int(min(maxBytes/4, logTailMax))
		c.headMax = uint64(maxBytes) - uint64(c.tailMax)
		c.room = c.headMax
	}
	return c
}

// Wrap returns the capped writer of one task output stream, w.
func (c *Cap) Wrap(w io.Writer) io.Writer { return &capWriter{c: c, w: w} }

type capWriter struct {
	c *Cap
	w io.Writer
}

func (cw *capWriter) Write(p []byte) (int, error) { return cw.c.write(cw, p) }

func (c *Cap) write(cw *capWriter, p []byte) (int, error) {
	if c.tailMax == 0 {
		return cw.w.Write(p)
	}
	// The head is written outside the lock: the log's writer may hold one
	// stream's write until the other's line ends (Chunker), which that
	// stream's writer must still be able to write.
	c.mu.Lock()
	head := p[:min(uint64(len(p)), c.room)]
	c.room -= uint64(len(head))
	if rest := p[len(head):]; len(rest) > 0 {
		c.keep(cw, rest)
	}
	c.mu.Unlock()
	if len(head) > 0 {
		if _, err := cw.w.Write(head); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// keep adds p to the tail and drops its oldest bytes beyond tailMax.
func (c *Cap) keep(cw *capWriter, p []byte) {
	if len(p) > c.tailMax {
		c.omitted += uint64(len(p) - c.tailMax)
		p = p[len(p)-c.tailMax:]
	}
	if last := len(c.tail) - 1; last >= 0 && c.tail[last].w == cw {
		c.tail[last].data = append(c.tail[last].data, p...)
	} else {
		c.tail = append(c.tail, tailSegment{w: cw, data: append([]byte(nil), p...)})
	}
	c.tailLen += len(p)
	for c.tailLen > c.tailMax {
		drop := min(c.tailLen-c.tailMax, len(c.tail[0].data))
		c.tail[0].data = c.tail[0].data[drop:]
		c.tailLen -= drop
		c.omitted += uint64(drop)
		if len(c.tail[0].data) == 0 {
			c.tail = c.tail[1:]
		}
	}
}

// EndStep logs what the step printed past the head: a line saying how much
// was left out, then the kept tail. Call it once the task has exited and
// its output is all written.
func (c *Cap) EndStep() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tailLen == 0 && c.omitted == 0 {
		return nil
	}
	if c.omitted > 0 {
		if _, err := fmt.Fprintf(c.sys, "log cap: %d bytes of output left out here; the log keeps the first %d bytes of the build's output and the last %d bytes of each step's\n",
			c.omitted, c.headMax, c.tailMax); err != nil {
			return err
		}
	}
	for _, s := range c.tail {
		if _, err := s.w.w.Write(s.data); err != nil {
			return err
		}
	}
	c.counted.Add(float64(c.omitted))
	c.tail, c.tailLen, c.omitted = nil, 0, 0
	return nil
}

// CapText is what the sandbox line of a log says about a cap of maxBytes.
func CapText(maxBytes int64) string {
	if maxBytes <= 0 {
		return "log not capped"
	}
	if maxBytes%(1<<20) == 0 {
		return fmt.Sprintf("log capped at %d MiB", maxBytes>>20)
	}
	return fmt.Sprintf("log capped at %d bytes", maxBytes)
}
