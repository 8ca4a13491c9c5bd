package buildlog

import (
	"context"
	"errors"
	"fmt"
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
// see repair for how a failed publish keeps it so.
type Publisher struct {
	ctx     context.Context
	js      jetstream.JetStream
	subject string
	cfg     PublisherConfig

	pending []inflight // published, not yet acknowledged, in sequence order
	round   int        // repairs so far; part of the Nats-Msg-Id of what is published after one
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
// and repairs the log from it if it fails.
func (p *Publisher) settleOldest() error {
	f := p.pending[0]
	if err := p.await(f); err != nil {
		return p.repair(err)
	}
	p.pending = p.pending[1:]
	p.count(f.chunk)
	return nil
}

// await waits for f's acknowledgement. One that has come wins over the
// timeout, however long ago f was sent: a long build's chunks wait in the
// window, acknowledged, until the log is synced at its end, and a select
// with the expired timer ready too would pick either at random.
func (p *Publisher) await(f inflight) error {
	if f.fut == nil {
		return errNotSent
	}
	select {
	case <-f.fut.Ok():
		return nil
	case err := <-f.fut.Err():
		return err
	default:
	}
	t := time.NewTimer(time.Until(f.sent.Add(pubAckTimeout)))
	defer t.Stop()
	select {
	case <-f.fut.Ok():
		return nil
	case err := <-f.fut.Err():
		return err
	case <-t.C:
		return errAckTimeout
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// repair handles a failed publish of the oldest chunk in flight, k. Later
// chunks may have been stored meanwhile (the stream was full for k and an
// uploader made room just before k+1 came, or k was lost with a
// connection): the stream would then hold k+1 before k. So repair lets
// every publish in flight land or fail, deletes whatever this log has on
// the stream after k-1, and publishes k and all after it again, one by
// one, each retried until it is acknowledged (streams.PublishAcked). A
// failure is final only when the builder's context ends.
func (p *Publisher) repair(cause error) error {
	failed := p.pending[0].chunk.Seq
	if p.ctx.Err() != nil {
		return fmt.Errorf("log chunk %d: %w", failed, p.ctx.Err())
	}
	p.cfg.Log.Warn().Err(cause).Uint64("chunk", failed).Int("in_flight", len(p.pending)).
		Msg("log chunk publish failed; republishing in order")
	for _, f := range p.pending[1:] {
		_ = p.await(f)
	}
	if err := p.dropAfter(failed - 1); err != nil {
		return fmt.Errorf("log chunk %d: %w", failed, err)
	}
	p.round++
	for _, f := range p.pending {
		if err := streams.PublishAcked(p.ctx, p.js, p.msg(f.chunk), p.cfg.Retry, p.cfg.Log); err != nil {
			return fmt.Errorf("log chunk %d: %w", f.chunk.Seq, err)
		}
		p.count(f.chunk)
	}
	p.pending = p.pending[:0]
	return nil
}

// dropAttempts bounds dropAfter: a refusal that lasts (a permission
// missing) must fail the attempt, which is then redelivered, rather than
// hold its slot for ever.
const dropAttempts = 20

// dropAfter deletes this log's messages after chunk last from the stream,
// newest first, retrying up to dropAttempts times. Nobody else publishes on
// an attempt's subject.
func (p *Publisher) dropAfter(last uint64) error {
	for n := 0; ; n++ {
		err := p.tryDropAfter(last)
		if err == nil {
			return nil
		}
		if p.ctx.Err() != nil {
			return fmt.Errorf("delete chunks after %d: %w", last, p.ctx.Err())
		}
		if n+1 >= dropAttempts {
			return fmt.Errorf("delete chunks after %d: %w", last, err)
		}
		if n%20 == 0 {
			p.cfg.Log.Warn().Err(err).Uint64("after_chunk", last).Msg("deleting out-of-order chunks failed, retrying")
		}
		if err := backoff.Sleep(p.ctx, p.cfg.Retry.Delay(n)); err != nil {
			return fmt.Errorf("delete chunks after %d: %w", last, err)
		}
	}
}

// tryDropAfter is one try of dropAfter. A stream electing a leader answers
// nothing: each try is bounded, or it would wait for all of a long context.
func (p *Publisher) tryDropAfter(last uint64) error {
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
		c, _, err := ParseMsg(raw.Header, raw.Data)
		if err != nil || c == nil || c.Seq <= last {
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
	if err := streams.PublishAcked(p.ctx, p.js, m, p.cfg.Retry, p.cfg.Log); err != nil {
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
