package reporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/streams"
)

// stallAfter is how long the results consumer may deliver nothing while
// the stream holds results it has not delivered before it is replaced.
// An ordered consumer recreates itself after a gap or a reconnect, but one
// whose server died in a cluster can go silent without an error; the
// report must not freeze with it.
const stallAfter = 15 * time.Second

// readAhead is how many results are read and decoded ahead of the run
// loop (resultsFeed.read).
const readAhead = 1024

// resultsFeed is the ordered consumer the reporter reads the results
// stream through, replaced when it stalls. Only its reading goroutine
// (read) uses it, but for stop.
type resultsFeed struct {
	js  jetstream.JetStream
	log zerolog.Logger
	// key checks the results that carry a MAC (zero: tickets off).
	key streams.JobKey
	// stallAfter is stallAfter but in tests; pause is how long a read that
	// failed waits before the next.
	stallAfter, pause time.Duration

	mu   sync.Mutex // guards msgs, which stop replaces from any goroutine
	msgs jetstream.MessagesContext

	seq     uint64    // stream sequence of the last result delivered
	lastAt  time.Time // when a result was last delivered or the feed checked
	checked time.Time
	dec     streams.Decoder
}

// arrival is one message of the results stream, read and checked ahead of
// the run loop as far as that needs no record.
type arrival struct {
	msg jetstream.Msg
	seq uint64 // its stream sequence; 0 if unknown
	res streams.Result
	// err is why the message is not a result it can count (bad JSON, a
	// body that does not match its subject, a bad MAC): it is set aside.
	err error
	// vouched is set when res carries a MAC the feed's key checked.
	vouched bool
}

// newResultsFeed returns the feed of the results stream, not yet open.
func newResultsFeed(js jetstream.JetStream, key streams.JobKey, pause time.Duration, log zerolog.Logger) *resultsFeed {
	return &resultsFeed{js: js, key: key, log: log, stallAfter: stallAfter, pause: pause}
}

// open starts reading the results stream after sequence after (0: from
// the start), replacing the consumer in use.
func (f *resultsFeed) open(ctx context.Context, after uint64) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.AllResultsFilter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := f.js.OrderedConsumer(ctx, streams.ResultsStream, cfg)
	if err != nil {
		return fmt.Errorf("reporter: create ordered consumer on %s: %w", streams.ResultsStream, err)
	}
	// Results are small; a large pull batch keeps a replay or a burst from
	// waiting on round trips to the server.
	msgs, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return fmt.Errorf("reporter: consume %s: %w", streams.ResultsStream, err)
	}
	f.mu.Lock()
	old := f.msgs
	f.msgs, f.lastAt = msgs, time.Now()
	f.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	return nil
}

// stop ends the current consumer; a Next blocked on it returns.
func (f *resultsFeed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msgs != nil {
		f.msgs.Stop()
	}
}

// read reads the results stream into out until ctx ends or the consumer
// is closed for good, and then closes out; its error is the consumer's
// closing, nil when ctx ended.
//
// Decoding a result and checking its MAC take most of what the reporter
// spends on one that needs no write: done here, on a goroutine of their
// own, they take a second core while the run loop counts the results
// before them. The feed is this goroutine's alone, so the stall check
// (unstall) sees every result delivered, counted or still in out.
func (f *resultsFeed) read(ctx context.Context, out chan<- arrival) error {
	defer close(out)
	for {
		msg, seq, err := f.next(f.stallAfter / 4)
		switch {
		case err == nil:
			select {
			case out <- f.check(msg, seq):
			case <-ctx.Done():
				return nil
			}
			// A run loop busy writing is not a silent consumer.
			f.lastAt = time.Now()
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, nats.ErrTimeout):
			if err := f.unstall(ctx); err != nil {
				f.log.Warn().Err(err).Msg("checking the results consumer")
			}
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return fmt.Errorf("reporter: results consumer closed: %w", err)
		default:
			// The ordered consumer recreates itself after gaps and
			// reconnects; anything else is worth a line and a pause.
			f.log.Warn().Err(err).Msg("reading results")
			if backoff.Sleep(ctx, f.pause) != nil {
				return nil
			}
		}
	}
}

// check decodes msg and checks what of it needs no record: that its body
// names the build and attempt its subject does, and its MAC if it has one.
func (f *resultsFeed) check(msg jetstream.Msg, seq uint64) arrival {
	a := arrival{msg: msg, seq: seq}
	if a.err = f.dec.Decode(msg.Data(), &a.res); a.err != nil {
		return a
	}
	if a.err = fromSubject(msg.Subject(), &a.res); a.err != nil {
		return a
	}
	if a.res.MAC != "" && !f.key.IsZero() {
		a.err, a.vouched = f.key.VerifyResult(&a.res), true
	}
	return a
}

// next waits up to wait for the next result, and returns it with its
// stream sequence (0 if unknown).
func (f *resultsFeed) next(wait time.Duration) (jetstream.Msg, uint64, error) {
	f.mu.Lock()
	msgs := f.msgs
	f.mu.Unlock()
	msg, err := msgs.Next(jetstream.NextMaxWait(wait))
	if err != nil {
		return nil, 0, err
	}
	seq := streams.StreamSeq(msg)
	if seq > 0 {
		f.seq = seq
	}
	f.lastAt = time.Now()
	return msg, seq, nil
}

// unstall replaces the consumer when it has delivered nothing for
// stallAfter although the stream has results after the last one it
// delivered. It looks at the stream at most once per stallAfter.
func (f *resultsFeed) unstall(ctx context.Context) error {
	now := time.Now()
	if now.Sub(f.lastAt) < f.stallAfter || now.Sub(f.checked) < f.stallAfter {
		return nil
	}
	f.checked = now
	ictx, cancel := context.WithTimeout(ctx, streams.RequestTimeout)
	defer cancel()
	s, err := f.js.Stream(ictx, streams.ResultsStream)
	if err != nil {
		return fmt.Errorf("look up %s: %w", streams.ResultsStream, err)
	}
	last := s.CachedInfo().State.LastSeq
	if last <= f.seq {
		return nil // nothing undelivered: the consumer is merely idle
	}
	f.log.Warn().Uint64("delivered", f.seq).Uint64("stream_last", last).Dur("silent", now.Sub(f.lastAt)).
		Msg("results consumer stalled; replacing it")
	return f.open(ctx, f.seq)
}
