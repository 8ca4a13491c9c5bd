package uploader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// How long a log may stay silent before it is judged abandoned depends on
// its experiment: a live build may print nothing for its no-output timeout
// (up to streams.MaxTimeout), and its output may then wait as long again
// on a blocked log stream before its builder gives the log up. So a log is
// judged abandoned for silence only after
//
//	max(Config.AbandonAfter, 2 × the experiment's no-output timeout + abandonMargin)
//
// read from the experiment's record. An experiment that sets no no-output
// timeout runs under each builder's own (--no-output-timeout, 5m unless
// changed), which the uploaders cannot know: AbandonAfter must cover it
// (the default 30m covers 2 × 5m + abandonMargin). An experiment without a
// record was deleted: no builder works for it, and AbandonAfter applies. A
// record that cannot be read as an experiment is taken to ask for the most
// an experiment may. A later attempt of the same build abandons a log at
// once, whatever its experiment.

// abandonMargin is what the builder itself may take between its tasks'
// outputs (preparing the next step, its system lines) and the clocks of
// the server and the uploader may disagree by.
const abandonMargin = 5 * time.Minute

// silenceAllowed is how long a log may stay silent, given Config.AbandonAfter
// and its experiment's no-output timeout (0: the builders' default).
func silenceAllowed(abandonAfter, noOutput time.Duration) time.Duration {
	if noOutput <= 0 {
		return abandonAfter
	}
	return max(abandonAfter, 2*noOutput+abandonMargin)
}

// silences looks up, once per experiment in one sweep, how long the
// experiment's logs may stay silent.
type silences struct {
	u     *Uploader
	kv    jetstream.KeyValue
	byExp map[string]time.Duration
	// failed: a lookup failed in this sweep; silence is not judged until
	// the next one.
	failed bool
}

func (u *Uploader) newSilences() *silences {
	return &silences{u: u, byExp: map[string]time.Duration{}}
}

// abandoned reports whether a log of exp silent for idle is abandoned. A
// lookup that fails says no: a log is never judged abandoned on a guess.
func (s *silences) abandoned(ctx context.Context, exp string, idle time.Duration) bool {
	if idle < s.u.cfg.AbandonAfter {
		return false
	}
	allowed, ok := s.byExp[exp]
	if !ok {
		if s.failed {
			return false
		}
		var err error
		if allowed, err = s.lookup(ctx, exp); err != nil {
			s.failed = true
			s.u.log.Warn().Err(err).Str("experiment", exp).Msg("cannot read the experiment's no-output timeout; no log is judged abandoned for silence until the next sweep")
			return false
		}
		s.byExp[exp] = allowed
	}
	return idle >= allowed
}

func (s *silences) lookup(ctx context.Context, exp string) (time.Duration, error) {
	if s.kv == nil {
		kv, err := s.u.js.KeyValue(ctx, streams.ExperimentsBucket)
		if err != nil {
			return 0, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
		}
		s.kv = kv
	}
	entry, err := s.kv.Get(ctx, exp)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s.u.cfg.AbandonAfter, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get %s from %s: %w", exp, streams.ExperimentsBucket, err)
	}
	var rec streams.Experiment
	if err := streams.Decode(entry.Value(), &rec); err != nil {
		s.u.log.Warn().Err(err).Str("experiment", exp).Msg("experiment record unreadable; its logs get the longest no-output timeout an experiment may set")
		return silenceAllowed(s.u.cfg.AbandonAfter, streams.MaxTimeout), nil
	}
	return silenceAllowed(s.u.cfg.AbandonAfter, rec.NoOutputTimeout.D()), nil
}
