package buildlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// Reader reads one attempt's log back from LogsStream, from its first
// message, and checks it as it goes: this is the one place the chunk
// protocol is read. Sequence numbers run 1, 2, 3, ... without a hole,
// each chunk starts where the one before ended, and the end marker counts
// the chunks and bytes read and gives their sha256. A chunk seen again
// (re-published after the stream's duplicate window) is skipped: the
// final sha256 check would catch it if its bytes differed. Messages come
// in stream order, so a chunk published late can never fill a hole.
//
// A Reader is an io.Reader and an io.WriterTo; WriteTo hands each chunk's
// bytes to one Write, with their time to a TimedWriter. It reads in one
// of three ways:
//
//   - strict (the default; the uploader): the first fault ends the read
//     with an *Error;
//   - lenient (Lenient; the uploader, once a log's holes have outlasted
//     its retries): a missing chunk or a chunk at the wrong offset is
//     marked in the bytes by a line starting with streams.GapMarkerPrefix
//     and listed (Gaps), and the read goes on;
//   - following (Idle; `ejecta tail`, the web UI): the read waits for the
//     chunks still to come, and when none came for a while it says so
//     (an *Error wrapping ErrIdle) and may be taken up again where it was.
type Reader struct {
	ctx  context.Context
	subj string
	opt  options
	src  *source

	// The protocol: what a correct next message must look like.
	next   uint64 // seq expected next; 0: resumed, taken from the first chunk after the written start
	bytes  uint64 // log bytes accounted for: the offset of the next chunk
	sum    hash.Hash
	gaps   []streams.LogGap
	lastNL bool // the last byte written was a newline (or nothing was)
	end    *streams.LogEnd
	done   bool  // the read is over: the end marker, Until or UpToNow
	failed error // a fault or failure the read cannot go on from

	skipped int // messages not signed with the ticket Verify gave

	first, last time.Time // when the first and last message read were stored
	lastSeq     uint64    // stream sequence of the last message read

	pending bytes.Buffer // what Read has not returned yet
}

// ErrIdle is wrapped by the *Error of a read that got no message for its
// Idle period.
var ErrIdle = errors.New("no message within the idle period")

// ErrMissing is wrapped by the *Error of a hole: chunks the stream does not
// hold where the log needs them.
var ErrMissing = errors.New("chunks missing from the stream")

// Error says what is wrong with a log on the stream: a hole, a chunk at
// the wrong offset, an end marker that does not match the data, a message
// that cannot be read, or no message at all for the Idle period.
type Error struct {
	Subject string
	Seq     uint64 // the message at fault or, for a hole, the one missing
	Bytes   uint64 // log bytes read before the fault
	Problem string
	kind    error // ErrIdle, ErrMissing or nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("log %s at seq %d after %d bytes: %s", e.Subject, e.Seq, e.Bytes, e.Problem)
}

func (e *Error) Unwrap() error { return e.kind }

// Open starts reading the log on subject.
func Open(ctx context.Context, js jetstream.JetStream, subject string, opts ...Option) (*Reader, error) {
	r := &Reader{ctx: ctx, subj: subject, next: 1, sum: sha256.New(), lastNL: true}
	for _, o := range opts {
		o(&r.opt)
	}
	if rp := r.opt.resume; rp != nil {
		r.next, r.bytes, r.sum, r.opt.lenient = 0, rp.bytes, rp.sum, false
	}
	var pull []jetstream.PullMessagesOpt
	if r.opt.readAhead > 0 {
		pull = append(pull, jetstream.PullMaxMessagesWithBytesLimit(readAheadMsgs, r.opt.readAhead))
	}
	src, err := newSource(ctx, js, subject)
	if err == nil {
		if err = src.start(pull...); err != nil {
			src.close(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", subject, err)
	}
	r.src = src
	return r, nil
}

// Close ends the read and releases its consumer on the server.
func (r *Reader) Close() error { return r.src.close(r.ctx) }

// WriteTo writes the log to w until the read is over, and returns nil
// then: at the end marker, checked, or where Until or UpToNow end it. An
// *Error wrapping ErrIdle leaves the read where it was, to be taken up by
// another call; any other error ends it.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if r.pending.Len() > 0 {
		m, err := r.pending.WriteTo(w)
		if n += m; err != nil {
			return n, err
		}
	}
	for !r.done {
		m, err := r.step(w)
		if n += m; err != nil {
			return n, err
		}
	}
	return n, r.failed
}

// Read reads the log's bytes; io.EOF once the read is over.
func (r *Reader) Read(p []byte) (int, error) {
	for r.pending.Len() == 0 {
		if r.done {
			if r.failed != nil {
				return 0, r.failed
			}
			return 0, io.EOF
		}
		if _, err := r.step(&r.pending); err != nil && r.pending.Len() == 0 {
			return 0, err
		}
	}
	return r.pending.Read(p)
}

// End is the end marker, once the read has reached it.
func (r *Reader) End() *streams.LogEnd { return r.end }

// Skipped is how many messages a Verify read skipped: published on the
// log's subject by someone without its job's ticket.
func (r *Reader) Skipped() int { return r.skipped }

// Gaps are the holes a lenient read marked.
func (r *Reader) Gaps() []streams.LogGap { return r.gaps }

// Offset is the log offset the read has reached: where the next chunk
// starts.
func (r *Reader) Offset() uint64 { return r.bytes }

// SHA256 is the hex sha256 of every byte the read has written (gap markers
// included), those before a Resume too.
func (r *Reader) SHA256() string { return hex.EncodeToString(r.sum.Sum(nil)) }

// First and Last are when the first and last message read reached the
// stream; LastSeq is the last one's stream sequence.
func (r *Reader) First() time.Time { return r.first }
func (r *Reader) Last() time.Time  { return r.last }
func (r *Reader) LastSeq() uint64  { return r.lastSeq }

// step reads one message and writes what it carries to w.
func (r *Reader) step(w io.Writer) (int64, error) {
	if r.failed != nil {
		return 0, r.failed
	}
	msg, err := r.src.next(r.ctx, r.opt.idle)
	switch {
	case errors.Is(err, errNoMessage):
		return 0, r.fault(r.next, ErrIdle, fmt.Sprintf("message %d not on the stream after waiting %s", r.next, r.opt.idle))
	case err != nil:
		r.failed = fmt.Errorf("read log %s: %w", r.subj, err)
		r.done = true
		return 0, r.failed
	}
	var pending uint64
	if md, err := msg.Metadata(); err == nil {
		if r.first.IsZero() {
			r.first = md.Timestamp.UTC()
		}
		r.last = md.Timestamp.UTC()
		r.lastSeq = md.Sequence.Stream
		pending = md.NumPending
	} else {
		pending = 1 // cannot tell: not the last
	}
	cw := &countingWriter{w: w}
	if err := r.add(msg.Headers(), msg.Data(), cw); err != nil {
		r.failed, r.done = err, true
		return cw.n, err
	}
	if (r.opt.untilSeq != 0 && r.lastSeq >= r.opt.untilSeq) || (r.opt.upToNow && pending == 0) {
		r.done = true
	}
	return cw.n, nil
}

// add checks one message and writes its data to w. It sets r.end once the
// log is complete and verified.
func (r *Reader) add(h nats.Header, data []byte, w io.Writer) error {
	if r.opt.ticket != "" && !Signed(r.subj, h, data, r.opt.ticket) {
		r.skipped++
		return nil
	}
	chunk, end, err := ParseMsg(h, data)
	if err != nil {
		if r.opt.lenient {
			// A message that cannot be read is a hole of its own.
			seq, _ := strconv.ParseUint(h.Get(HdrSeq), 10, 64)
			if seq >= r.next {
				return r.gap(w, r.next, seq, 0, "unreadable message: "+err.Error())
			}
			return nil
		}
		return r.fault(r.next, nil, err.Error())
	}
	if end != nil {
		if r.next == 0 { // resumed: every chunk was in the written start
			r.next = end.Chunks + 1
		}
		if err := r.checkEnd(w, end); err != nil {
			return err
		}
		r.end, r.done = end, true
		return nil
	}
	if r.next == 0 {
		switch {
		case chunk.Offset+uint64(len(chunk.Data)) <= r.bytes:
			return nil // in the written start; the final sha256 checks it
		case chunk.Offset != r.bytes:
			return r.fault(chunk.Seq, nil, fmt.Sprintf("chunk at offset %d, the written start ends at %d", chunk.Offset, r.bytes))
		}
		r.next = chunk.Seq
	}
	switch {
	case chunk.Seq < r.next:
		return nil
	case chunk.Seq > r.next && r.opt.lenient:
		if err := r.gap(w, r.next, chunk.Seq-1, chunk.Offset, fmt.Sprintf("chunks %d to %d missing", r.next, chunk.Seq-1)); err != nil {
			return err
		}
	case chunk.Seq > r.next:
		return r.fault(r.next, ErrMissing, fmt.Sprintf("chunk %d missing: the next chunk on the stream is %d", r.next, chunk.Seq))
	}
	if chunk.Offset != r.bytes {
		if !r.opt.lenient {
			return r.fault(chunk.Seq, nil, fmt.Sprintf("chunk at offset %d, want %d", chunk.Offset, r.bytes))
		}
		if err := r.gap(w, 0, 0, chunk.Offset, fmt.Sprintf("chunk %d at offset %d, expected %d", chunk.Seq, chunk.Offset, r.bytes)); err != nil {
			return err
		}
	}
	if err := r.write(w, chunk.Data, chunk.Time, r.bytes); err != nil {
		return err
	}
	r.bytes += uint64(len(chunk.Data))
	r.next = chunk.Seq + 1
	return nil
}

// write sums b, the log's bytes at offset off, and writes what of it lies
// past From to w, with its time if w wants it.
func (r *Reader) write(w io.Writer, b []byte, at time.Time, off uint64) error {
	if len(b) == 0 {
		return nil
	}
	r.sum.Write(b)
	r.lastNL = b[len(b)-1] == '\n'
	if end := off + uint64(len(b)); end <= r.opt.from {
		return nil
	} else if off < r.opt.from {
		b = b[r.opt.from-off:]
	}
	var err error
	if tw, ok := w.(TimedWriter); ok {
		_, err = tw.WriteTimed(b, at)
	} else {
		_, err = w.Write(b)
	}
	if err != nil {
		return fmt.Errorf("write log %s: %w", r.subj, err)
	}
	return nil
}

// gap records missing chunks firstSeq..lastSeq (0, 0: none, the offsets
// just disagree) and marks them in the log. resume is the offset of the
// data that follows; bytes up to it are counted as missing.
func (r *Reader) gap(w io.Writer, firstSeq, lastSeq, resume uint64, what string) error {
	g := streams.LogGap{Offset: r.bytes, FirstSeq: firstSeq, LastSeq: lastSeq}
	if resume > r.bytes {
		g.Bytes = resume - r.bytes
	}
	r.gaps = append(r.gaps, g)
	marker := fmt.Sprintf("%s%s; %d bytes missing at offset %d]\n", streams.GapMarkerPrefix, what, g.Bytes, g.Offset)
	if !r.lastNL {
		marker = "\n" + marker
	}
	if err := r.write(w, []byte(marker), time.Time{}, r.opt.from); err != nil {
		return err
	}
	if resume > r.bytes {
		r.bytes = resume
	}
	if lastSeq >= r.next {
		r.next = lastSeq + 1
	}
	return nil
}

// checkEnd compares the end marker with what was read. Leniently, a
// shortfall before the marker is a gap, and a log with gaps cannot match
// the marker's checksum, which is then not compared.
func (r *Reader) checkEnd(w io.Writer, end *streams.LogEnd) error {
	seq := end.Chunks + 1 // ParseMsg checked that this is the marker's seq
	if r.opt.lenient && seq > r.next {
		if err := r.gap(w, r.next, seq-1, end.Bytes, fmt.Sprintf("chunks %d to %d missing", r.next, seq-1)); err != nil {
			return err
		}
	}
	if r.opt.lenient && len(r.gaps) > 0 {
		return nil
	}
	switch {
	case seq > r.next:
		return r.fault(r.next, ErrMissing, fmt.Sprintf("chunk %d missing: the end marker is %d", r.next, seq))
	case seq < r.next:
		return r.fault(seq, nil, fmt.Sprintf("end marker counts %d chunks, %d were read", end.Chunks, r.next-1))
	case end.Bytes != r.bytes:
		return r.fault(seq, nil, fmt.Sprintf("end marker counts %d bytes, %d were read", end.Bytes, r.bytes))
	}
	if got := r.SHA256(); !strings.EqualFold(end.SHA256, got) {
		return r.fault(seq, nil, fmt.Sprintf("end marker sha256 %q, the bytes read hash to %s", end.SHA256, got))
	}
	return nil
}

func (r *Reader) fault(seq uint64, kind error, problem string) *Error {
	return &Error{Subject: r.subj, Seq: seq, Bytes: r.bytes, Problem: problem, kind: kind}
}

// TimedWriter is a writer that also wants to know when the bytes it is
// given were written by the task: a Reader calls WriteTimed instead of
// Write for every chunk, with the chunk's time (zero when the builder did
// not record one).
type TimedWriter interface {
	io.Writer
	WriteTimed(p []byte, at time.Time) (int, error)
}

// countingWriter counts what a step wrote, for WriteTo's count.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) WriteTimed(p []byte, at time.Time) (int, error) {
	tw, ok := c.w.(TimedWriter)
	if !ok {
		return c.Write(p)
	}
	n, err := tw.WriteTimed(p, at)
	c.n += int64(n)
	return n, err
}
