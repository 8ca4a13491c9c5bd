package buildlog

import (
	"hash"
	"time"
)

// Option says how a Reader reads.
type Option func(*options)

type options struct {
	lenient   bool
	idle      time.Duration
	untilSeq  uint64
	upToNow   bool
	from      uint64
	resume    *resumePoint
	readAhead int
	ticket    string
}

// resumePoint is where a read takes a log up: bytes of it are written and
// summed in sum.
type resumePoint struct {
	bytes uint64
	sum   hash.Hash
}

// Lenient marks missing chunks in the bytes and lists them (Gaps) instead
// of failing. A log read leniently cannot match its end marker's checksum
// once it has gaps, which is then not compared.
func Lenient() Option { return func(o *options) { o.lenient = true } }

// Idle makes a read that got no message for d fail with an *Error
// wrapping ErrIdle; the read may then go on. Without it a read waits for
// the next message until its context ends.
func Idle(d time.Duration) Option { return func(o *options) { o.idle = d } }

// Until ends the read, without an end marker, after the message at stream
// sequence seq: the last a log abandoned by its builder has.
func Until(seq uint64) Option { return func(o *options) { o.untilSeq = seq } }

// UpToNow ends the read, without an end marker, once the messages on the
// stream when they are read have been read: what there is of a log now.
func UpToNow() Option { return func(o *options) { o.upToNow = true } }

// From writes only the log's bytes from offset on (a reader reconnecting
// where it was); the bytes before it are read and checked all the same.
func From(offset uint64) Option { return func(o *options) { o.from = offset } }

// Resume takes up a log whose first bytes are written already, summed in
// sum (which the read goes on summing). Chunks that end before them are
// skipped, the first one after them must start there, and its sequence
// number is taken as it is. A resumed read is never lenient.
func Resume(bytes uint64, sum hash.Hash) Option {
	return func(o *options) { o.resume = &resumePoint{bytes: bytes, sum: sum} }
}

// readAheadMsgs bounds the log messages fetched ahead by a ReadAhead
// reader: enough for its bytes of full chunks.
const readAheadMsgs = 256

// ReadAhead bounds the log messages fetched ahead of what the reader has
// taken by bytes as well as by count. With a byte bound alone the client
// sizes its buffer for a million messages (8 MB allocated and cleared per
// log), which dominates the cost of small logs.
func ReadAhead(bytes int) Option { return func(o *options) { o.readAhead = bytes } }

// Verify reads only the messages signed with ticket, the ticket of the job
// whose attempt wrote the log (Sign): anything else on the subject was
// published by someone not handed that job and is skipped as if it were
// not there (Skipped counts it). An empty ticket verifies nothing.
func Verify(ticket string) Option { return func(o *options) { o.ticket = ticket } }
