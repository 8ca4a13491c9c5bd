package buildlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// source is the messages on LogsStream of the subjects filter matches,
// read with an ordered consumer from the first: what every reader of logs
// reads.
type source struct {
	js   jetstream.JetStream
	cons jetstream.Consumer
	it   jetstream.MessagesContext
}

// newSource makes the consumer of the messages filter matches; start
// starts reading them.
func newSource(ctx context.Context, js jetstream.JetStream, filter string) (*source, error) {
	cons, err := js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, err
	}
	return &source{js: js, cons: cons}, nil
}

// empty reports whether the stream holds no message for the source; ask
// before start, which takes them.
func (s *source) empty(ctx context.Context) (bool, error) {
	info, err := s.cons.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.NumPending == 0, nil
}

// start starts reading; pull tunes how many messages are fetched ahead.
func (s *source) start(pull ...jetstream.PullMessagesOpt) error {
	it, err := s.cons.Messages(pull...)
	if err != nil {
		return err
	}
	s.it = it
	return nil
}

// errNoMessage is returned by next when no message came in time.
var errNoMessage = errors.New("no message in time")

// next waits up to idle (0: for ever) for the next message; errNoMessage
// if none came, ctx's error if ctx ended.
func (s *source) next(ctx context.Context, idle time.Duration) (jetstream.Msg, error) {
	nctx, cancel := ctx, context.CancelFunc(func() {})
	if idle > 0 {
		nctx, cancel = context.WithTimeout(ctx, idle)
	}
	defer cancel()
	msg, err := s.it.Next(jetstream.NextContext(nctx))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil && nctx.Err() != nil:
		return nil, errNoMessage
	}
	return msg, err
}

// closeTimeout bounds the deletion of a reader's consumer.
const closeTimeout = 5 * time.Second

// close stops reading and deletes the ordered consumer now rather than
// leaving it to the server's inactivity clean-up: every log being read
// (an upload, an open log page) has one, and they add up.
func (s *source) close(ctx context.Context) error {
	if s.it != nil {
		s.it.Stop()
	}
	info := s.cons.CachedInfo()
	if info == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := s.js.DeleteConsumer(ctx, streams.LogsStream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete log reader %s: %w", info.Name, err)
	}
	return nil
}
