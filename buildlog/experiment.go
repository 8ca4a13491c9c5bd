package buildlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// Piece is one message of some build's log, as FollowExperiment hands it on.
type Piece struct {
	Build   streams.BuildKey
	Attempt int
	Chunk   *Chunk          // a chunk of data, or
	End     *streams.LogEnd // the end of the log
	// Pending is how many of the experiment's log messages were still to
	// come after this one when it was delivered: 0 once the reader has
	// caught up with the stream.
	Pending uint64
}

// FollowExperiment calls fn with every log message of experiment exp that is
// on LogsStream, oldest first: the logs of the builds in flight from their
// first byte (finished logs leave the stream once stored). With follow it
// then waits for new messages until ctx ends; without, it returns once it
// has read what is there. Messages that are not ejecta log messages are
// skipped. The pieces of many logs interleave, as the builds wrote them:
// they are handed on as they come, not checked as one log is (Reader).
func FollowExperiment(ctx context.Context, js jetstream.JetStream, exp string, follow bool, fn func(Piece) error) error {
	src, err := newSource(ctx, js, streams.ExperimentLogsFilter(exp))
	if err != nil {
		return fmt.Errorf("read logs of %s: %w", exp, err)
	}
	defer src.close(ctx)
	if !follow {
		empty, err := src.empty(ctx)
		if err != nil {
			return fmt.Errorf("read logs of %s: %w", exp, err)
		}
		if empty {
			return nil
		}
	}
	if err := src.start(); err != nil {
		return fmt.Errorf("read logs of %s: %w", exp, err)
	}
	for {
		msg, err := src.next(ctx, time.Hour)
		if errors.Is(err, errNoMessage) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil && follow {
				return nil
			}
			return fmt.Errorf("read logs of %s: %w", exp, err)
		}
		k, attempt, kerr := streams.ParseLogSubject(msg.Subject())
		chunk, end, perr := ParseMsg(msg.Headers(), msg.Data())
		md, merr := msg.Metadata()
		if kerr == nil && perr == nil {
			p := Piece{Build: k, Attempt: attempt, Chunk: chunk, End: end}
			if merr == nil {
				p.Pending = md.NumPending
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		if !follow && merr == nil && md.NumPending == 0 {
			return nil
		}
	}
}
