package uploader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

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
	bytes uint64 // bytes written so far
	sum   hash.Hash
	out   io.Writer // the store and sum
}

// copyLog reads the log on subj from LogsStream into w, from its first
// message to its end marker, and returns the end marker once the bytes
// written match it. It gives up when no message comes for IdleTimeout.
func (u *Uploader) copyLog(ctx context.Context, subj string, w io.Writer) (streams.LogEnd, error) {
	cons, err := u.js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return streams.LogEnd{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(u.cfg.ReadAheadBytes))
	if err != nil {
		return streams.LogEnd{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	defer u.dropConsumer(ctx, it, cons)

	sum := sha256.New()
	lc := &logCopy{subj: subj, next: 1, sum: sum, out: io.MultiWriter(sum, w)}
	for {
		msg, err := next(ctx, it, u.cfg.IdleTimeout)
		switch {
		case errors.Is(err, errIdle):
			return streams.LogEnd{}, lc.fault(lc.next, fmt.Sprintf(
				"message %d not on the stream after waiting %s", lc.next, u.cfg.IdleTimeout))
		case err != nil:
			return streams.LogEnd{}, fmt.Errorf("read log %s: %w", subj, err)
		}
		end, err := lc.add(msg.Headers(), msg.Data())
		if err != nil || end != nil {
			return deref(end), err
		}
	}
}

func deref(end *streams.LogEnd) streams.LogEnd {
	if end == nil {
		return streams.LogEnd{}
	}
	return *end
}

// add checks one message and writes its data. It returns the end marker
// once the log is complete and verified.
//
// A message with a seq already seen is skipped: it can only be a chunk
// re-published after the stream's duplicate window, and the final sha256
// check would catch it if its bytes differed. A seq beyond the next one is
// a hole. Messages are read in stream order, so a chunk published late (out
// of order) can never fill the hole on a later delivery either; holes are
// reported and the request retried with back-off. Storing a log with an
// explicit "bytes missing here" marker instead is left for a later change.
func (lc *logCopy) add(h nats.Header, data []byte) (*streams.LogEnd, error) {
	chunk, end, err := streams.ParseLogMsg(h, data)
	if err != nil {
		return nil, lc.fault(lc.next, err.Error())
	}
	if end != nil {
		return end, lc.checkEnd(end)
	}
	switch {
	case chunk.Seq < lc.next:
		return nil, nil
	case chunk.Seq > lc.next:
		return nil, lc.fault(lc.next, fmt.Sprintf("chunk %d missing: the next chunk on the stream is %d", lc.next, chunk.Seq))
	case chunk.Offset != lc.bytes:
		return nil, lc.fault(chunk.Seq, fmt.Sprintf("chunk at offset %d, want %d", chunk.Offset, lc.bytes))
	}
	if _, err := lc.out.Write(chunk.Data); err != nil {
		return nil, fmt.Errorf("write log %s to the store: %w", lc.subj, err)
	}
	lc.bytes += uint64(len(chunk.Data))
	lc.next++
	return nil, nil
}

// checkEnd compares the end marker with what was written.
func (lc *logCopy) checkEnd(end *streams.LogEnd) error {
	seq := end.Chunks + 1 // ParseLogMsg checked that this is the marker's seq
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
