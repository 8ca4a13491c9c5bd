package buildlog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/streams"
)

// pubAckTimeout is how long an asynchronous chunk publish may go without
// an answer before it counts as failed. The client has no timeout of its
// own for them, and a message lost with a connection would wait forever.
const pubAckTimeout = 10 * time.Second

var (
	errNotSent    = errors.New("asynchronous publish refused")
	errAckTimeout = fmt.Errorf("no acknowledgement within %s", pubAckTimeout)
)

// Publisher is the Sink that puts one attempt's chunks on its LogSubject.
// Its context is the builder's, not the attempt's: a build that timed out
// still has its log delivered; only the builder stopping abandons it, or
// the attempt giving its log up after it was blocked too long.
//
// Chunks are published asynchronously, up to a window of them
// unacknowledged at once (PublisherConfig.Window). WriteChunk blocks while
// the window is full, which blocks the Chunker and so the task's pipe: a
// full LogsStream slows the build down, it loses nothing. The stream must
// hold a log's chunks in sequence order, because readers reorder nothing;
// see repair for how a failed publish keeps it so. Acknowledged is not
// enough: across a change of the stream's leader, a chunk published after
// another can be stored before it, each acknowledged. The publisher checks
// the stream sequence of every acknowledgement against the one before and
// repairs the log from where it went out of order.
type Publisher struct {
	ctx     context.Context
	js      jetstream.JetStream
	subject string
	cfg     PublisherConfig

	pending []inflight // published, not yet acknowledged, in sequence order
	// acked are the latest chunks acknowledged, up to a window of them,
	// with where the stream stored them, in increasing stream order: a
	// repair may have to publish them again.
	acked []storedChunk
	round int // repairs so far; part of the Nats-Msg-Id of what is published after one
}

// storedChunk is a chunk the stream acknowledged at stream sequence seq.
type storedChunk struct {
	chunk Chunk
	seq   uint64
}

// PublisherConfig tunes a Publisher.
type PublisherConfig struct {
	// Window is how many chunks may be published and not yet
	// acknowledged; 0 or 1: each waits for its ack.
	Window int
	// Retry spaces the retries of a publish refused (a full stream) or
	// lost (a connection).
	Retry backoff.Policy
	Log   zerolog.Logger
	// Waits is told when writers start and stop waiting for acks; nil:
	// nobody is.
	Waits Waits
	// Chunks and Bytes count what the stream acknowledged; nil: nothing.
	Chunks, Bytes prometheus.Counter
	// Repairs counts the log's repairs by cause (RepairCauses); nil:
	// nothing.
	Repairs *prometheus.CounterVec
	// Ticket is the job's ticket, which every message of the log is
	// signed with (Sign); "" for a job without one.
	Ticket string
}

// Waits is told when the writers of a log start waiting for a Publisher's
// acknowledgements, and when that wait ends, with the error it ended with
// (nil: the chunks are safe).
type Waits interface {
	Block()
	Unblock(err error)
}

// NewPublisher returns the Publisher of the log on subject, which
// publishes until ctx ends.
func NewPublisher(ctx context.Context, js jetstream.JetStream, subject string, cfg PublisherConfig) *Publisher {
	return &Publisher{ctx: ctx, js: js, subject: subject, cfg: cfg}
}

// inflight is one chunk on its way.
type inflight struct {
	chunk Chunk
	fut   jetstream.PubAckFuture // nil when the client refused to send it
	sent  time.Time
}

// WriteChunk publishes c, then waits while the window is full.
func (p *Publisher) WriteChunk(c Chunk) error {
	fut, err := p.js.PublishMsgAsync(p.msg(c))
	if err != nil {
		// Settled as a failure, in its turn: repaired in order.
		fut = nil
	}
	p.pending = append(p.pending, inflight{chunk: c, fut: fut, sent: time.Now()})
	return p.settle(max(p.cfg.Window, 1) - 1)
}

// Sync returns once every chunk written so far is acknowledged.
func (p *Publisher) Sync() error { return p.settle(0) }

// settle waits until at most n chunks are in flight. The writers wait with
// it: that is the time Waits is told of.
func (p *Publisher) settle(n int) (err error) {
	if len(p.pending) <= n {
		return nil
	}
	if p.cfg.Waits != nil {
		p.cfg.Waits.Block()
		defer func() { p.cfg.Waits.Unblock(err) }()
	}
	for len(p.pending) > n {
		if err := p.settleOldest(); err != nil {
			return err
		}
	}
	return nil
}

// msg frames c; after a repair the Nats-Msg-Id changes, or the stream
// would drop the republished chunks as duplicates of deleted ones.
func (p *Publisher) msg(c Chunk) *nats.Msg {
	m := NewChunkMsg(p.subject, c)
	Sign(m, p.cfg.Ticket)
	if p.round > 0 {
		m.Header.Set(nats.MsgIdHdr, m.Header.Get(nats.MsgIdHdr)+"~"+strconv.Itoa(p.round))
	}
	return m
}

// settleOldest waits for the oldest chunk in flight to be acknowledged,
// and repairs the log from it if it fails, or from the first chunk stored
// after it if it was stored before chunks published ahead of it.
func (p *Publisher) settleOldest() error {
	f := p.pending[0]
	ack, err := p.await(f)
	if err != nil {
		return p.repair(len(p.acked), err)
	}
	if n := len(p.acked); n > 0 && ack.Sequence < p.acked[n-1].seq {
		from, _ := slices.BinarySearchFunc(p.acked, ack.Sequence, func(c storedChunk, seq uint64) int { return cmp.Compare(c.seq, seq) })
		if from == 0 && p.acked[0].chunk.Seq > 1 {
			// Stored before chunks no longer kept: the log cannot be put
			// back in order.
			return fmt.Errorf("log chunk %d stored at stream sequence %d, before chunk %d and more: %w",
				f.chunk.Seq, ack.Sequence, p.acked[0].chunk.Seq, errOutOfOrder)
		}
		return p.repair(from, fmt.Errorf("chunk %d stored at stream sequence %d, before chunk %d at %d: %w",
			f.chunk.Seq, ack.Sequence, p.acked[from].chunk.Seq, p.acked[from].seq, errOutOfOrder))
	}
	p.pending = p.pending[1:]
	p.stored(f.chunk, ack.Sequence)
	p.count(f.chunk)
	return nil
}

// Causes of a repair, the label of PublisherConfig.Repairs.
const (
	RepairFailed     = "failed"       // a chunk's publish failed
	RepairOutOfOrder = "out-of-order" // chunks acknowledged, stored out of order
)

// RepairCauses lists every cause of a repair.
var RepairCauses = []string{RepairFailed, RepairOutOfOrder}

// errOutOfOrder is why a log is repaired whose chunks the stream stored in
// another order than they were published in.
var errOutOfOrder = errors.New("stored out of order")

// stored records that the stream holds c at stream sequence seq, keeping
// a window of the latest.
func (p *Publisher) stored(c Chunk, seq uint64) {
	if len(p.acked) >= max(p.cfg.Window, 1) {
		p.acked = slices.Delete(p.acked, 0, 1)
	}
	p.acked = append(p.acked, storedChunk{chunk: c, seq: seq})
}

// await waits for f's acknowledgement. One that has come wins over the
// timeout, however long ago f was sent: a long build's chunks wait in the
// window, acknowledged, until the log is synced at its end, and a select
// with the expired timer ready too would pick either at random.
func (p *Publisher) await(f inflight) (*jetstream.PubAck, error) {
	if f.fut == nil {
		return nil, errNotSent
	}
	select {
	case ack := <-f.fut.Ok():
		return ack, nil
	case err := <-f.fut.Err():
		return nil, err
	default:
	}
	t := time.NewTimer(time.Until(f.sent.Add(pubAckTimeout)))
	defer t.Stop()
	select {
	case ack := <-f.fut.Ok():
		return ack, nil
	case err := <-f.fut.Err():
		return nil, err
	case <-t.C:
		return nil, errAckTimeout
	case <-p.ctx.Done():
		return nil, p.ctx.Err()
	}
}

// repair puts the log back in order on the stream when the oldest chunk in
// flight failed to publish, or was stored before chunks published ahead of
// it: from is the index in acked of the first chunk the stream may not
// hold in order (len(acked) when every chunk acknowledged is in order).
// Later chunks may have been stored meanwhile (the stream was full for the
// failed one and an uploader made room just before the next came, or it
// was lost with a connection): the stream would then hold them before it.
// So repair lets every publish in flight land or fail, deletes whatever
// this log has on the stream after the last chunk it holds in order, and
// publishes every chunk after that one again, one by one, each retried
// until it is acknowledged (streams.PublishAcked). A failure is final only
// when the builder's context ends.
func (p *Publisher) repair(from int, cause error) error {
	redo := make([]Chunk, 0, len(p.acked)-from+len(p.pending))
	for _, c := range p.acked[from:] {
		redo = append(redo, c.chunk)
	}
	for _, f := range p.pending {
		redo = append(redo, f.chunk)
	}
	first := redo[0].Seq
	if p.ctx.Err() != nil {
		return fmt.Errorf("log chunk %d: %w", first, p.ctx.Err())
	}
	label, what := RepairFailed, "log chunk publish failed; republishing in order"
	if errors.Is(cause, errOutOfOrder) {
		label, what = RepairOutOfOrder, "log chunk stored out of order; republishing in order"
	}
	if p.cfg.Repairs != nil {
		p.cfg.Repairs.WithLabelValues(label).Inc()
	}
	p.cfg.Log.Warn().Err(cause).Uint64("chunk", first).Int("in_flight", len(p.pending)).Str("cause", label).
		Msg(what)
	for _, f := range p.pending[1:] {
		_, _ = p.await(f)
	}
	var keep uint64 // stream sequence of the last chunk held in order
	if from > 0 {
		keep = p.acked[from-1].seq
	}
	if err := p.dropAfter(keep); err != nil {
		return fmt.Errorf("log chunk %d: %w", first, err)
	}
	p.round++
	counted := len(p.acked) - from // the chunks acknowledged before are counted
	p.acked, p.pending = p.acked[:from], p.pending[:0]
	for i, c := range redo {
		// One at a time, each after the one before is acknowledged: the
		// stream holds them in order.
		ack, err := streams.PublishAcked(p.ctx, p.js, p.msg(c), p.cfg.Retry, p.cfg.Log)
		if err != nil {
			return fmt.Errorf("log chunk %d: %w", c.Seq, err)
		}
		p.stored(c, ack.Sequence)
		if i >= counted {
			p.count(c)
		}
	}
	return nil
}

// dropAttempts bounds dropAfter: a refusal that lasts (a permission
// missing) must fail the attempt, which is then redelivered, rather than
// hold its slot for ever.
const dropAttempts = 20

// dropAfter deletes this log's messages after stream sequence keep from
// the stream, newest first, retrying up to dropAttempts times. Nobody else
// publishes on an attempt's subject.
func (p *Publisher) dropAfter(keep uint64) error {
	for n := 0; ; n++ {
		err := p.tryDropAfter(keep)
		if err == nil {
			return nil
		}
		if p.ctx.Err() != nil {
			return fmt.Errorf("delete chunks after stream sequence %d: %w", keep, p.ctx.Err())
		}
		if n+1 >= dropAttempts {
			return fmt.Errorf("delete chunks after stream sequence %d: %w", keep, err)
		}
		if n%20 == 0 {
			p.cfg.Log.Warn().Err(err).Uint64("after_stream_seq", keep).Msg("deleting out-of-order chunks failed, retrying")
		}
		if err := backoff.Sleep(p.ctx, p.cfg.Retry.Delay(n)); err != nil {
			return fmt.Errorf("delete chunks after stream sequence %d: %w", keep, err)
		}
	}
}

// tryDropAfter is one try of dropAfter. A stream electing a leader answers
// nothing: each try is bounded, or it would wait for all of a long context.
func (p *Publisher) tryDropAfter(keep uint64) error {
	ctx, cancel := context.WithTimeout(p.ctx, streams.RequestTimeout)
	defer cancel()
	stream, err := p.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		return err
	}
	for {
		raw, err := stream.GetLastMsgForSubject(ctx, p.subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if raw.Sequence <= keep {
			return nil
		}
		if err := stream.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
	}
}

// WriteEnd publishes the end marker that closes the log summarised by s,
// once every chunk before it is acknowledged, and returns it: end, whose
// Status, ExitCode and Reason are the attempt's, with the summary's
// counts and checksum.
func (p *Publisher) WriteEnd(s Summary, end streams.LogEnd) (streams.LogEnd, error) {
	end.Chunks, end.Bytes, end.SHA256 = s.Chunks, s.Bytes, s.SHA256
	if err := p.Sync(); err != nil {
		return end, err
	}
	m, err := NewEndMsg(p.subject, s.Chunks+1, end)
	if err != nil {
		return end, err
	}
	Sign(m, p.cfg.Ticket)
	if _, err := streams.PublishAcked(p.ctx, p.js, m, p.cfg.Retry, p.cfg.Log); err != nil {
		return end, fmt.Errorf("log end marker: %w", err)
	}
	return end, nil
}

// count counts a chunk the stream acknowledged.
func (p *Publisher) count(c Chunk) {
	if p.cfg.Chunks != nil {
		p.cfg.Chunks.Inc()
	}
	if p.cfg.Bytes != nil {
		p.cfg.Bytes.Add(float64(len(c.Data)))
	}
}
