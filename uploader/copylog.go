package uploader

import (
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

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// logError says what is wrong with a log on the stream: a hole, a chunk at
// the wrong offset, an end marker that does not match the data.
type logError struct {
	Subject string
	Seq     uint64 // the message at fault or, for a hole, the one missing
	Bytes   uint64 // bytes read before the fault
	Problem string
}

func (e *logError) Error() string {
	return fmt.Sprintf("log %s at seq %d after %d bytes: %s", e.Subject, e.Seq, e.Bytes, e.Problem)
}

// logCopy is the state of one log being read: what a correct next message
// must look like, and what has been written so far.
type logCopy struct {
	subj  string
	next  uint64 // seq expected next
	bytes uint64 // bytes of the task's output accounted for so far
	sum   hash.Hash
	out   io.Writer // the store and sum
	// lenient: a missing chunk or a chunk at the wrong offset is marked in
	// the log and recorded in gaps instead of failing the copy.
	lenient bool
	gaps    []streams.LogGap
	lastNL  bool // the last byte written was a newline (or nothing was)
}

// copyOpts say how a log is read.
type copyOpts struct {
	// lenient stores a log with holes, marked, rather than failing.
	lenient bool
	// untilSeq, when not 0, is the stream sequence of the log's last
	// message: an abandoned log has no end marker to stop at.
	untilSeq uint64
	// resume, when set, continues a log whose start is written already
	// (stitch.go); never lenient.
	resume *resumePoint
}

// resumePoint is where a copy takes a log up: bytes of it are written and
// summed in sum. Chunks that end before it are skipped, the first one
// after it must start there, and its sequence number is taken as is.
type resumePoint struct {
	bytes uint64
	sum   hash.Hash
}

// copyResult is what copyLog learnt about a log.
type copyResult struct {
	end         *streams.LogEnd // nil for an abandoned log
	first, last time.Time       // when the first and last message were stored
	gaps        []streams.LogGap
	lastSeq     uint64 // stream sequence of the last message read
}

// readAheadMsgs bounds the log messages fetched ahead: enough for
// ReadAheadBytes of full chunks.
const readAheadMsgs = 256

// copyLog reads the log on subj from LogsStream into w, from its first
// message to its end marker (or opts.untilSeq), checking it on the way. It
// gives up when no message comes for IdleTimeout.
func (u *Uploader) copyLog(ctx context.Context, subj string, w io.Writer, opts copyOpts) (copyResult, error) {
	cons, err := u.js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return copyResult{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	// Bound the messages as well as the bytes: with a byte bound alone the
	// client sizes its buffer for a million messages (8 MB allocated and
	// cleared per log), which dominated the cost of small logs.
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(readAheadMsgs, u.cfg.ReadAheadBytes))
	if err != nil {
		return copyResult{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	defer u.dropConsumer(ctx, it, cons)
	sum := sha256.New()
	lc := &logCopy{subj: subj, next: 1, sum: sum, out: io.MultiWriter(sum, w), lenient: opts.lenient, lastNL: true}
	if r := opts.resume; r != nil {
		lc.next, lc.bytes, lc.sum, lc.out, lc.lenient = 0, r.bytes, r.sum, io.MultiWriter(r.sum, w), false
	}
	var res copyResult
	for {
		msg, err := next(ctx, it, u.cfg.IdleTimeout)
		switch {
		case errors.Is(err, errIdle):
			return res, lc.fault(lc.next, fmt.Sprintf(
				"message %d not on the stream after waiting %s", lc.next, u.cfg.IdleTimeout))
		case err != nil:
			return res, fmt.Errorf("read log %s: %w", subj, err)
		}
		var streamSeq uint64
		if md, err := msg.Metadata(); err == nil {
			if res.first.IsZero() {
				res.first = md.Timestamp.UTC()
			}
			res.last = md.Timestamp.UTC()
			streamSeq = md.Sequence.Stream
			res.lastSeq = streamSeq
		}
		end, err := lc.add(msg.Headers(), msg.Data())
		res.end, res.gaps = end, lc.gaps
		if err != nil || end != nil {
			return res, err
		}
		if opts.untilSeq != 0 && streamSeq >= opts.untilSeq {
			return res, nil
		}
	}
}

// add checks one message and writes its data. It returns the end marker
// once the log is complete and verified.
//
// A message with a seq already seen is skipped: it can only be a chunk
// re-published after the stream's duplicate window, and the final sha256
// check would catch it if its bytes differed. A seq beyond the next one is
// a hole. Messages are read in stream order, so a chunk published late (out
// of order) can never fill the hole on a later delivery either. Unless
// lenient, a hole fails the copy and the request is retried with back-off;
// once retries are exhausted the copy is redone leniently, which stores the
// log with the hole marked (GapMarkerPrefix) and listed in the metadata.
func (lc *logCopy) add(h nats.Header, data []byte) (*streams.LogEnd, error) {
	chunk, end, err := buildlog.ParseMsg(h, data)
	if err != nil {
		if lc.lenient {
			// A message that cannot be read is a hole of its own.
			seq, _ := strconv.ParseUint(h.Get(buildlog.HdrSeq), 10, 64)
			if seq >= lc.next {
				return nil, lc.gap(lc.next, seq, 0, "unreadable message: "+err.Error())
			}
			return nil, nil
		}
		return nil, lc.fault(lc.next, err.Error())
	}
	if end != nil {
		if lc.next == 0 { // resumed: every chunk was in the written start
			lc.next = end.Chunks + 1
		}
		return end, lc.checkEnd(end)
	}
	if lc.next == 0 {
		switch {
		case chunk.Offset+uint64(len(chunk.Data)) <= lc.bytes:
			return nil, nil // in the written start; the final sha256 checks it
		case chunk.Offset != lc.bytes:
			return nil, lc.fault(chunk.Seq, fmt.Sprintf("chunk at offset %d, the written start ends at %d", chunk.Offset, lc.bytes))
		}
		lc.next = chunk.Seq
	}
	switch {
	case chunk.Seq < lc.next:
		return nil, nil
	case chunk.Seq > lc.next && lc.lenient:
		if err := lc.gap(lc.next, chunk.Seq-1, chunk.Offset, fmt.Sprintf("chunks %d to %d missing", lc.next, chunk.Seq-1)); err != nil {
			return nil, err
		}
	case chunk.Seq > lc.next:
		return nil, lc.fault(lc.next, fmt.Sprintf("chunk %d missing: the next chunk on the stream is %d", lc.next, chunk.Seq))
	}
	if chunk.Offset != lc.bytes {
		if !lc.lenient {
			return nil, lc.fault(chunk.Seq, fmt.Sprintf("chunk at offset %d, want %d", chunk.Offset, lc.bytes))
		}
		if err := lc.gap(0, 0, chunk.Offset, fmt.Sprintf("chunk %d at offset %d, expected %d", chunk.Seq, chunk.Offset, lc.bytes)); err != nil {
			return nil, err
		}
	}
	if err := lc.write(chunk.Data); err != nil {
		return nil, err
	}
	lc.bytes += uint64(len(chunk.Data))
	lc.next = chunk.Seq + 1
	return nil, nil
}

func (lc *logCopy) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := lc.out.Write(b); err != nil {
		return fmt.Errorf("write log %s to the store: %w", lc.subj, err)
	}
	lc.lastNL = b[len(b)-1] == '\n'
	return nil
}

// gap records missing chunks firstSeq..lastSeq (0, 0: none, the offsets
// just disagree) and marks them in the log. resume is the offset of the
// data that follows; bytes up to it are counted as missing.
func (lc *logCopy) gap(firstSeq, lastSeq, resume uint64, what string) error {
	g := streams.LogGap{Offset: lc.bytes, FirstSeq: firstSeq, LastSeq: lastSeq}
	if resume > lc.bytes {
		g.Bytes = resume - lc.bytes
	}
	lc.gaps = append(lc.gaps, g)
	marker := fmt.Sprintf("%s%s; %d bytes missing at offset %d]\n", streams.GapMarkerPrefix, what, g.Bytes, g.Offset)
	if !lc.lastNL {
		marker = "\n" + marker
	}
	if err := lc.write([]byte(marker)); err != nil {
		return err
	}
	if resume > lc.bytes {
		lc.bytes = resume
	}
	if lastSeq >= lc.next {
		lc.next = lastSeq + 1
	}
	return nil
}

// checkEnd compares the end marker with what was written. Leniently, a
// shortfall before the marker is a gap, and a log with gaps cannot match
// the marker's checksum, which is then not compared.
func (lc *logCopy) checkEnd(end *streams.LogEnd) error {
	seq := end.Chunks + 1 // buildlog.ParseMsg checked that this is the marker's seq
	if lc.lenient && seq > lc.next {
		if err := lc.gap(lc.next, seq-1, end.Bytes, fmt.Sprintf("chunks %d to %d missing", lc.next, seq-1)); err != nil {
			return err
		}
	}
	if lc.lenient && len(lc.gaps) > 0 {
		return nil
	}
	switch {
	case seq > lc.next:
		return lc.fault(lc.next, fmt.Sprintf("chunk %d missing: the end marker is %d", lc.next, seq))
	case seq < lc.next:
		return lc.fault(seq, fmt.Sprintf("end marker counts %d chunks, %d were read", end.Chunks, lc.next-1))
	case end.Bytes != lc.bytes:
		return lc.fault(seq, fmt.Sprintf("end marker counts %d bytes, %d were read", end.Bytes, lc.bytes))
	}
	if got := hex.EncodeToString(lc.sum.Sum(nil)); !strings.EqualFold(end.SHA256, got) {
		return lc.fault(seq, fmt.Sprintf("end marker sha256 %q, the bytes read hash to %s", end.SHA256, got))
	}
	return nil
}

func (lc *logCopy) fault(seq uint64, problem string) *logError {
	return &logError{Subject: lc.subj, Seq: seq, Bytes: lc.bytes, Problem: problem}
}

// errIdle is returned by next when no message came in time.
var errIdle = errors.New("no message within the idle timeout")

// next waits up to idle for the next message.
func next(ctx context.Context, it jetstream.MessagesContext, idle time.Duration) (jetstream.Msg, error) {
	nctx, cancel := context.WithTimeout(ctx, idle)
	defer cancel()
	msg, err := it.Next(jetstream.NextContext(nctx))
	if err != nil && ctx.Err() == nil && nctx.Err() != nil {
		return nil, errIdle
	}
	return msg, err
}

// dropConsumer stops reading and deletes the ordered consumer right away
// instead of leaving it to the server's inactivity clean-up: with many logs
// in flight, lingering consumers add up.
func (u *Uploader) dropConsumer(ctx context.Context, it jetstream.MessagesContext, cons jetstream.Consumer) {
	it.Stop()
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := finishing(ctx)
	defer cancel()
	if err := u.js.DeleteConsumer(ctx, streams.LogsStream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		u.log.Debug().Err(err).Str("consumer", info.Name).Msg("delete log reader consumer; the server will expire it")
	}
}
