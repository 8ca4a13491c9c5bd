package buildlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// ChunkDelay is how long the first byte of a chunk may wait for company
// before it is sent: a live log is at most this far behind the build.
const ChunkDelay = 50 * time.Millisecond

// Sink receives the chunks a Chunker cuts, in order, one at a time. It may
// return before the chunk is safe (published and acknowledged), as long as
// it keeps the order and blocks when too many are not; an error means a
// chunk can never be safe, and a Chunker stops at the first one.
type Sink interface {
	WriteChunk(c Chunk) error
}

// Syncer is a Sink that can wait until every chunk it took is safe; a
// Chunker's End waits for it.
type Syncer interface {
	Sync() error
}

// ErrEnded is returned by writes after the log has been ended.
var ErrEnded = errors.New("log already ended")

// Chunker is the one log sequence of an attempt. Every output stream
// (stdout, stderr, system) writes into it through Writer(stream); it cuts
// the bytes into chunks of one stream each, numbered from 1, with the byte
// offset of their first byte in the whole log, and hands them to the sink.
//
// A chunk is flushed when it reaches max bytes, when the next write comes
// from another stream, or delay after its first byte, whichever is first,
// so a quiet build still shows up live and a noisy one is sent in large
// pieces.
//
// Streams change at line boundaries where they can: when stdout writes a
// whole line while a line of stderr is unfinished, or the other way round,
// that line's start is held aside
// (up to max bytes, for at most delay) and goes into the log with the
// rest of the line, after the other stream's lines. A program writes a
// line in pieces (Rust's test harness prints "test result: ok" and ". 2
// passed" in two writes) while cargo prints on stderr, and the pipes are
// read apart: without this, the other stream's line would land inside it.
// Each stream's bytes keep their order; only where the two pipes
// interleave moves, as it does anyway between two pipes. The builder's own
// lines (StreamSystem) are never held and let go of what is: they mark
// where a step starts and ends. Everything happens under one mutex: sequence numbers, offsets
// and the hash are consistent however the writers interleave, and a sink
// that blocks (a full stream) blocks the writers, which is the
// back-pressure that reaches the compiler through its pipe.
type Chunker struct {
	sink  Sink
	max   int
	delay time.Duration

	mu     sync.Mutex
	stream string // stream of buf
	buf    []byte
	// held is each stream's unfinished line, set aside when another
	// stream wrote; heldTimer puts it in the log after delay.
	held      map[string][]byte
	heldTimer *time.Timer
	heldArmed bool      // heldTimer will fire: held lines wait at most delay
	first     time.Time // when buf's first byte was written
	timer     *time.Timer
	gen       uint64 // bumped by every flush, so a timer armed for an older chunk does nothing
	seq       uint64 // of the last chunk handed to the sink
	off       uint64 // bytes handed to the sink
	sum       hash.Hash
	lines     int   // newlines written
	err       error // first sink error; sticky
	ended     bool
}

// NewChunker cuts chunks of at most max bytes, at most delay old, for sink.
func NewChunker(sink Sink, max int, delay time.Duration) *Chunker {
	return &Chunker{sink: sink, max: max, delay: delay, sum: sha256.New()}
}

// Writer returns the io.Writer of one output stream.
func (c *Chunker) Writer(stream string) io.Writer { return streamWriter{c, stream} }

type streamWriter struct {
	c      *Chunker
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) { return w.c.write(w.stream, p) }

func (c *Chunker) write(stream string, p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return 0, ErrEnded
	}
	if c.err != nil {
		return 0, c.err
	}
	c.lines += bytes.Count(p, newline)
	if stream == StreamSystem {
		// The builder's own lines mark where a step starts and ends: the
		// task's output before one stays before it.
		if err := c.releaseHeldLocked(); err != nil {
			return 0, err
		}
	}
	data := p
	if held := c.held[stream]; len(held) > 0 {
		// The stream goes on with its held line: the line's start goes
		// first, into the log as if written now.
		delete(c.held, stream)
		data = append(held, p...)
	}
	n, err := c.appendLocked(stream, data)
	return max(0, n-(len(data)-len(p))), err
}

// appendLocked puts p, written by stream, into the sequence.
func (c *Chunker) appendLocked(stream string, p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if len(c.buf) > 0 && c.stream != stream {
			c.holdLocked(stream, p)
			if err := c.flushLocked(); err != nil {
				return written, err
			}
		}
		if len(c.buf) == 0 {
			c.stream = stream
			c.buf = make([]byte, 0, c.max)
			c.first = time.Now()
			gen := c.gen
			c.timer = time.AfterFunc(c.delay, func() { c.flushIfGen(gen) })
		}
		n := min(c.max-len(c.buf), len(p))
		c.buf = append(c.buf, p[:n]...)
		p = p[n:]
		written += n
		if len(c.buf) == c.max {
			if err := c.flushLocked(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

var newline = []byte{'\n'}

// holdLocked sets buf's unfinished last line aside, as stream next is
// about to write p, which has a whole line, until buf's stream writes
// again or delay passes, unless that would hold more than max bytes of it.
func (c *Chunker) holdLocked(next string, p []byte) {
	if next == StreamSystem || c.stream == StreamSystem {
		return // only the task's two pipes race each other
	}
	if bytes.IndexByte(p, '\n') < 0 {
		return // next has no whole line to put first
	}
	i := bytes.LastIndexByte(c.buf, '\n')
	tail := c.buf[i+1:]
	if len(tail) == 0 || len(c.held[c.stream])+len(tail) > c.max {
		return
	}
	if c.held == nil {
		c.held = make(map[string][]byte)
	}
	c.held[c.stream] = append(c.held[c.stream], tail...)
	c.buf = c.buf[:i+1]
	switch {
	case c.heldArmed:
	case c.heldTimer == nil:
		c.heldTimer = time.AfterFunc(c.delay, c.flushHeld)
	default:
		c.heldTimer.Reset(c.delay)
	}
	c.heldArmed = true
}

// flushHeld is heldTimer's: the held lines go into the log unfinished,
// in a fixed order of streams.
func (c *Chunker) flushHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heldArmed = false
	if c.err == nil && !c.ended {
		// An error is kept in c.err and returned to the next writer.
		_ = c.releaseHeldLocked()
	}
}

// releaseHeldLocked puts every held line into the log unfinished, after
// what the other stream wrote since: held lines are held only for the
// whole lines of the other stream that follow (holdLocked).
func (c *Chunker) releaseHeldLocked() error {
	for _, stream := range slices.Sorted(maps.Keys(c.held)) {
		held := c.held[stream]
		delete(c.held, stream)
		if len(c.buf) > 0 && c.stream != stream {
			// Flushed whole: a line held now would never be let go.
			if err := c.flushLocked(); err != nil {
				return err
			}
		}
		if _, err := c.appendLocked(stream, held); err != nil {
			return err
		}
	}
	return nil
}

// Line is the number, from 1, of the log line the next byte written goes
// to, as a reader numbering the whole log's lines counts them (the web
// UI's log page anchors each line by it).
func (c *Chunker) Line() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines + 1
}

// flushIfGen is the timer's flush: only if no flush happened since it was armed.
func (c *Chunker) flushIfGen(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && c.err == nil {
		// An error is kept in c.err and returned to the next writer.
		_ = c.flushLocked()
	}
}

func (c *Chunker) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	c.gen++
	c.timer.Stop()
	data := c.buf
	c.buf = nil
	chunk := Chunk{Seq: c.seq + 1, Offset: c.off, Stream: c.stream, Data: data, Time: c.first}
	if err := c.sink.WriteChunk(chunk); err != nil {
		// The bytes are lost for this attempt's log; say so to every later
		// writer rather than leave a silent hole in the sequence.
		c.err = err
		return err
	}
	c.seq++
	c.off += uint64(len(data))
	c.sum.Write(data)
	return nil
}

// Summary is what the end marker records about a complete log.
type Summary struct {
	Chunks uint64
	Bytes  uint64
	SHA256 string
}

// End flushes, waits until the sink has every chunk safe, refuses further
// writes and returns the log's summary.
func (c *Chunker) End() (Summary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !c.ended {
		c.err = c.releaseHeldLocked()
	}
	if c.err == nil {
		c.err = c.flushLocked()
	}
	if s, ok := c.sink.(Syncer); ok && c.err == nil && !c.ended {
		c.err = s.Sync()
	}
	c.ended = true
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.heldTimer != nil {
		c.heldTimer.Stop()
	}
	return Summary{Chunks: c.seq, Bytes: c.off, SHA256: hex.EncodeToString(c.sum.Sum(nil))}, c.err
}
