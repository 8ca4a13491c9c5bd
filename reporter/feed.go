package reporter

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/streams"
)

// stallAfter is how long the results consumer may deliver nothing while
// the stream holds results it has not delivered before it is replaced.
// An ordered consumer recreates itself after a gap or a reconnect, but one
// whose server died in a cluster can go silent without an error; the
// report must not freeze with it.
const stallAfter = 15 * time.Second

// resultsFeed is the ordered consumer the reporter reads the results
// stream through, replaced when it stalls.
type resultsFeed struct {
	mu      sync.Mutex
	msgs    jetstream.MessagesContext
	seq     uint64    // stream sequence of the last result delivered
	lastAt  time.Time // when a result was last delivered or the feed checked
	checked time.Time
}

// open starts reading the results stream after sequence after (0: from
// the start), replacing the consumer in use.
func (f *resultsFeed) open(ctx context.Context, js jetstream.JetStream, after uint64) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.AllResultsFilter},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, cfg)
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

// next waits up to wait for the next result.
func (f *resultsFeed) next(wait time.Duration) (jetstream.Msg, error) {
	f.mu.Lock()
	msgs := f.msgs
	f.mu.Unlock()
	msg, err := msgs.Next(jetstream.NextMaxWait(wait))
	if err == nil {
		if md, err := msg.Metadata(); err == nil {
			f.seq = md.Sequence.Stream
		}
		f.lastAt = time.Now()
	}
	return msg, err
}

// unstall replaces the consumer when it has delivered nothing for
// stallAfter although the stream has results after the last one it
// delivered. It looks at the stream at most once per stallAfter.
func (f *resultsFeed) unstall(ctx context.Context, js jetstream.JetStream, log zerolog.Logger) error {
	now := time.Now()
	if now.Sub(f.lastAt) < stallAfter || now.Sub(f.checked) < stallAfter {
		return nil
	}
	f.checked = now
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := js.Stream(ictx, streams.ResultsStream)
	if err != nil {
		return fmt.Errorf("look up %s: %w", streams.ResultsStream, err)
	}
	last := s.CachedInfo().State.LastSeq
	if last <= f.seq {
		return nil // nothing undelivered: the consumer is merely idle
	}
	log.Warn().Uint64("delivered", f.seq).Uint64("stream_last", last).Dur("silent", now.Sub(f.lastAt)).
		Msg("results consumer stalled; replacing it")
	return f.open(ctx, js, f.seq)
}
