package reporter

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// handle takes one message of the results stream into st. A message that
// is not a valid result, or not one signed by the builder handed its job
// (tickets.go), is set aside on the dead stream; it never stops the
// reporter.
func (r *Reporter) handle(ctx context.Context, st *run, msg jetstream.Msg) {
	seq := streams.StreamSeq(msg)
	if seq > 0 && seq >= st.startSeq && !st.caughtUp {
		// Re-runs wait for the replay to end (requestReruns): now is the
		// time to look at every experiment that has some to ask for.
		st.caughtUp = true
		for _, e := range st.exps {
			if len(e.unconfirmed) > 0 {
				e.markDirty(time.Now(), r.cfg.Debounce)
			}
		}
	}
	var res streams.Result
	if err := st.decoder.Decode(msg.Data(), &res); err != nil {
		r.deadLetter(ctx, msg, err)
		return
	}
	// The subject is what filters and dedup windows see; a body that names
	// another build would be counted under the wrong key.
	if want := streams.ResultSubject(res.BuildKey, res.Attempt); msg.Subject() != want {
		r.deadLetter(ctx, msg,
			fmt.Errorf("result for %s attempt %d arrived on subject %q, want %q",
				res.BuildKey, res.Attempt, msg.Subject(), want))
		return
	}
	if st.isDropped(res.Experiment, seq) {
		return // a deleted experiment's, delivered before its purge
	}
	e := st.exps[res.Experiment]
	var rec *streams.Experiment
	if e != nil {
		rec = e.rec
	}
	wait, err := r.vouch(rec, &res)
	if err != nil {
		r.deadLetter(ctx, msg, err)
		return
	}
	r.met.ingested.Inc()
	if e == nil {
		e = newExperiment(res.Experiment, r.cfg.confirmations())
		st.exps[res.Experiment] = e
	}
	changed := false
	switch {
	case wait:
		changed = e.holdUnsigned(&res, seq)
	case e.rec == nil:
		changed = e.hold(&res)
	default:
		changed = e.apply(&res, r.strayLogger(e.name))
	}
	if changed {
		e.lastResult = time.Now()
		e.markDirty(e.lastResult, r.cfg.Debounce)
	}
}

// strayLogger returns what apply calls for a result whose toolchain is not
// one of the experiment's: such a result cannot be compared with anything.
func (r *Reporter) strayLogger(exp string) func(string) {
	return func(tc string) {
		r.log.Warn().Str("experiment", exp).Str("toolchain", tc).
			Msg("ignoring results for a toolchain the experiment does not have")
	}
}

// deadLetter logs a refused message once and copies it to the dead stream.
// The copy's Nats-Msg-Id is derived from the stream sequence, so replays
// within the dead stream's duplicate window do not store it twice.
func (r *Reporter) deadLetter(ctx context.Context, msg jetstream.Msg, reason error) {
	r.refuse(ctx, msg.Subject(), msg.Data(), streams.StreamSeq(msg), reason)
}

// refuse is deadLetter for a message of the results stream given as its
// subject, data and sequence. The dead letter is published once, and the
// message is not terminated: the reporter reads the results stream with
// an ordered consumer, and a refused result stays on it.
func (r *Reporter) refuse(ctx context.Context, subject string, data []byte, seq uint64, reason error) {
	log := r.log.With().Str("subject", subject).Uint64("seq", seq).
		Int("bytes", len(data)).Logger()
	log.Warn().Err(reason).Msg("refusing result, moving it to the dead stream")
	r.met.refused.Inc()
	dead := streams.NewDeadMsg(subject, data, streams.ResultsStream, seq, reason)
	if _, err := r.js.PublishMsg(ctx, dead); err != nil && ctx.Err() == nil {
		// The message is still in the results stream; nothing is lost.
		log.Error().Err(err).Msg("publishing dead letter")
	}
}
