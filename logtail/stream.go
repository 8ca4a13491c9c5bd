package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// errIdle is returned by next when no message came within the poll period.
var errIdle = errors.New("no message within the poll period")

// fromStream reads the log from LogsStream with an ordered consumer from
// its first message. When the log leaves the stream underneath (an uploader
// stored and purged it) it carries on from the store at the offset reached.
func (r *Reader) fromStream(ctx context.Context, k streams.BuildKey, attempt int, w io.Writer, opt Options) (Result, error) {
	subj := streams.LogSubject(k, attempt)
	cons, err := r.js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return Result{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return Result{}, fmt.Errorf("read log %s: %w", subj, err)
	}
	defer r.drop(it, cons)

	var next uint64 = 1 // seq expected next
	var off uint64      // log offset of the next chunk
	// switchToStore finishes from the store, or says why it cannot.
	switchToStore := func(why string) (Result, error) {
		res, err := r.fromStore(ctx, k, attempt, w, max(off, opt.From))
		if errors.Is(err, errNotStored) {
			return Result{Offset: max(off, opt.From)}, fmt.Errorf("log %s after %d bytes: %s, and it is not stored", subj, off, why)
		}
		return res, err
	}
	for {
		msg, err := next1(ctx, it, r.poll)
		if errors.Is(err, errIdle) {
			on, err := r.onStream(ctx, subj)
			switch {
			case err != nil:
				return Result{Offset: max(off, opt.From)}, err
			case on && opt.Follow:
				continue
			case on:
				return Result{Offset: max(off, opt.From)}, nil
			}
			res, err := r.fromStore(ctx, k, attempt, w, max(off, opt.From))
			if errors.Is(err, errNotStored) && opt.Follow && off == 0 {
				continue // not started yet
			}
			if errors.Is(err, errNotStored) {
				return switchToStore("it left the stream")
			}
			return res, err
		}
		if err != nil {
			return Result{Offset: max(off, opt.From)}, fmt.Errorf("read log %s: %w", subj, err)
		}
		chunk, end, err := buildlog.ParseMsg(msg.Headers(), msg.Data())
		if err != nil {
			return Result{Offset: max(off, opt.From)}, fmt.Errorf("log %s: %w", subj, err)
		}
		if end != nil {
			if end.Chunks+1 != next {
				return switchToStore(fmt.Sprintf("end marker after %d chunks, %d read", end.Chunks, next-1))
			}
			return Result{Offset: max(off, opt.From), Complete: true, End: end}, nil
		}
		switch {
		case chunk.Seq < next:
			continue // a re-published duplicate
		case chunk.Seq > next:
			return switchToStore(fmt.Sprintf("chunk %d missing", next))
		case chunk.Offset != off:
			return Result{Offset: max(off, opt.From)}, fmt.Errorf("log %s: chunk %d at offset %d, want %d", subj, chunk.Seq, chunk.Offset, off)
		}
		data := chunk.Data
		if end := off + uint64(len(data)); end > opt.From {
			if off < opt.From {
				data = data[opt.From-off:]
			}
			if err := writeChunk(w, data, chunk.Time); err != nil {
				return Result{Offset: max(off, opt.From)}, fmt.Errorf("write log %s: %w", subj, err)
			}
		}
		off += uint64(len(chunk.Data))
		next++
		if !opt.Follow {
			if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
				return Result{Offset: max(off, opt.From)}, nil
			}
		}
	}
}

// writeChunk hands data to w, with its time if w wants it.
func writeChunk(w io.Writer, data []byte, at time.Time) error {
	if tw, ok := w.(TimedWriter); ok {
		_, err := tw.WriteTimed(data, at)
		return err
	}
	_, err := w.Write(data)
	return err
}

// next1 waits up to poll for the next message.
func next1(ctx context.Context, it jetstream.MessagesContext, poll time.Duration) (jetstream.Msg, error) {
	nctx, cancel := context.WithTimeout(ctx, poll)
	defer cancel()
	msg, err := it.Next(jetstream.NextContext(nctx))
	if err != nil && ctx.Err() == nil && nctx.Err() != nil {
		return nil, errIdle
	}
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return msg, err
}

// drop stops reading and deletes the ordered consumer now rather than
// leaving it to the server's inactivity clean-up: every open log page has
// one, and they add up.
func (r *Reader) drop(it jetstream.MessagesContext, cons jetstream.Consumer) {
	it.Stop()
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.js.DeleteConsumer(ctx, streams.LogsStream, info.Name)
}
