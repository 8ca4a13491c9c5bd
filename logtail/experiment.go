package logtail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// Piece is one message of some build's log, as FollowExperiment hands it on.
type Piece struct {
	Build   streams.BuildKey
	Attempt int
	Chunk   *buildlog.Chunk // a chunk of data, or
	End     *streams.LogEnd // the end of the log
}

// FollowExperiment calls fn with every log message of experiment exp that is
// on LogsStream, oldest first: the logs of the builds in flight from their
// first byte (finished logs leave the stream once stored). With follow it
// then waits for new messages until ctx ends; without, it returns once it
// has read what is there. Messages that are not ejecta log messages are
// skipped.
func FollowExperiment(ctx context.Context, js jetstream.JetStream, exp string, follow bool, fn func(Piece) error) error {
	cons, err := js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{streams.ExperimentLogsFilter(exp)}, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("read logs of %s: %w", exp, err)
	}
	if !follow {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("read logs of %s: %w", exp, err)
		}
		if info.NumPending == 0 {
			return nil
		}
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read logs of %s: %w", exp, err)
	}
	r := &Reader{js: js}
	defer r.drop(it, cons)
	for {
		msg, err := next1(ctx, it, time.Hour)
		if errors.Is(err, errIdle) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil && follow {
				return nil
			}
			return fmt.Errorf("read logs of %s: %w", exp, err)
		}
		k, attempt, kerr := streams.ParseLogSubject(msg.Subject())
		chunk, end, perr := buildlog.ParseMsg(msg.Headers(), msg.Data())
		if kerr == nil && perr == nil {
			if err := fn(Piece{Build: k, Attempt: attempt, Chunk: chunk, End: end}); err != nil {
				return err
			}
		}
		if !follow {
			if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
				return nil
			}
		}
	}
}
