package buildlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
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
// pieces. Everything happens under one mutex: sequence numbers, offsets
// and the hash are consistent however the writers interleave, and a sink
// that blocks (a full stream) blocks the writers, which is the
// back-pressure that reaches the compiler through its pipe.
//
// The task's two pipes are read apart, so one may write while the other
// is in the middle of a line ("test a ... " on stdout, waiting for its
// "ok"). Such a write waits until that line ends, at most delay, so the
// log does not splice one pipe's line into the other's; past delay it goes
// in where it is, as a log must not stall. The builder's own (system)
// lines never wait: they come between and after the task's steps.
type Chunker struct {
	sink  Sink
	max   int
	delay time.Duration

	mu     sync.Mutex
	stream string // stream of buf
	buf    []byte
	first  time.Time // when buf's first byte was written
	timer  *time.Timer
	gen    uint64 // bumped by every flush, so a timer armed for an older chunk does nothing
	seq    uint64 // of the last chunk handed to the sink
	off    uint64 // bytes handed to the sink
	sum    hash.Hash
	lines  int   // newlines written
	err    error // first sink error; sticky
	ended  bool
	// open is the stream whose line the log ends in the middle of ("" if
	// the log ends a line); lineEnd is closed when that line ends.
	open    string
	lineEnd chan struct{}
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
	if err := c.writable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.awaitLineEnd(stream); err != nil {
		return 0, err
	}
	last := p[len(p)-1]
	written := 0
	for len(p) > 0 {
		if len(c.buf) > 0 && c.stream != stream {
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
		c.lines += bytes.Count(p[:n], newline)
		p = p[n:]
		written += n
		if len(c.buf) == c.max {
			if err := c.flushLocked(); err != nil {
				return written, err
			}
		}
	}
	c.noteLineEnd(stream, last)
	return written, nil
}

// awaitLineEnd waits, with c.mu held and released while waiting, until the
// log no longer ends in the middle of another task stream's line, or for
// at most c.delay; then whether the write may go on.
func (c *Chunker) awaitLineEnd(stream string) error {
	if stream == StreamSystem || c.open == "" || c.open == stream {
		return nil
	}
	deadline := time.NewTimer(c.delay)
	defer deadline.Stop()
	for c.open != "" && c.open != stream {
		lineEnd := c.lineEnd
		c.mu.Unlock()
		select {
		case <-lineEnd:
		case <-deadline.C:
			c.mu.Lock()
			return c.writable()
		}
		c.mu.Lock()
		if err := c.writable(); err != nil {
			return err
		}
	}
	return nil
}

// writable is why the log takes no more writes, if it does not.
func (c *Chunker) writable() error {
	if c.ended {
		return ErrEnded
	}
	return c.err
}

// noteLineEnd records whether the log, whose last byte stream just wrote
// is last, ends in the middle of a line, and wakes the writers waiting
// for a line to end.
func (c *Chunker) noteLineEnd(stream string, last byte) {
	inLine := last != '\n'
	if c.open != "" && (!inLine || c.open != stream) {
		close(c.lineEnd)
		c.open = ""
	}
	if inLine && c.open == "" {
		c.open, c.lineEnd = stream, make(chan struct{})
	}
}

var newline = []byte{'\n'}

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
	if c.err == nil {
		c.err = c.flushLocked()
	}
	if s, ok := c.sink.(Syncer); ok && c.err == nil && !c.ended {
		c.err = s.Sync()
	}
	c.ended = true
	c.noteLineEnd(StreamSystem, '\n') // no line is left to wait for
	if c.timer != nil {
		c.timer.Stop()
	}
	return Summary{Chunks: c.seq, Bytes: c.off, SHA256: hex.EncodeToString(c.sum.Sum(nil))}, c.err
}
