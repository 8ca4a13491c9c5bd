package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// DeadLetter is one poison message kept on streams.DeadStream.
type DeadLetter struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Subject     string    `json:"subject"`      // its dead subject
	FromSubject string    `json:"from_subject"` // where it arrived
	Reason      string    `json:"reason"`
	Data        []byte    `json:"data"`
}

// DeadLetters returns the dead letters of experiment exp, or of every
// experiment (those that could not be attributed included) when exp is "".
func DeadLetters(ctx context.Context, js jetstream.JetStream, exp string) ([]DeadLetter, error) {
	filters := []string{streams.DeadStreamFilter}
	if exp != "" {
		if err := streams.ValidateExperimentName(exp); err != nil {
			return nil, err
		}
		filters = streams.ExperimentDeadFilters(exp)
	}
	// Next on an empty selection waits and times out; ask first.
	n, err := countAll(ctx, js, streams.DeadStream, filters)
	if err != nil || n == 0 {
		return nil, err
	}
	c, err := js.OrderedConsumer(ctx, streams.DeadStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streams.DeadStream, err)
	}
	var out []DeadLetter
	for {
		msg, err := c.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %s: %w", streams.DeadStream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return out, fmt.Errorf("read %s: %w", streams.DeadStream, err)
		}
		h := msg.Headers()
		out = append(out, DeadLetter{
			Seq: md.Sequence.Stream, Time: md.Timestamp, Subject: msg.Subject(),
			FromSubject: h.Get(streams.HdrDeadSubject), Reason: h.Get(streams.HdrDeadReason), Data: msg.Data(),
		})
		if md.NumPending == 0 {
			return out, nil
		}
	}
}
