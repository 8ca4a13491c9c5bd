package reporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// handle takes one message of the results stream, read and checked by the
// feed (arrival), into st. A message that is not a valid result, or not
// one signed by the builder handed its job (tickets.go), is set aside on
// the dead stream; it never stops the reporter.
func (r *Reporter) handle(ctx context.Context, st *run, a *arrival) {
	msg, seq, res := a.msg, a.seq, &a.res
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
	if a.err != nil {
		r.deadLetter(ctx, st, msg, a.err)
		return
	}
	if st.isDropped(res.Experiment, seq) {
		return // a deleted experiment's, delivered before its purge
	}
	e := st.exps[res.Experiment]
	rec := st.known[res.Experiment]
	if e != nil {
		rec = e.rec
	}
	if rec == nil {
		r.await(ctx, st, msg, res, seq, a.vouched)
		return
	}
	if !a.vouched {
		if err := r.vouch(rec, res); err != nil {
			r.deadLetter(ctx, st, msg, err)
			return
		}
	}
	r.met.ingested.Inc()
	if e == nil {
		e = r.open(st, rec)
	}
	if e.apply(res, r.strayLogger(e.name)) {
		e.lastResult = time.Now()
		e.markDirty(e.lastResult, r.cfg.Debounce)
	}
}

// fromSubject checks that a result's body names the build and attempt
// its subject does, and sets its Sender from the subject. The subject is
// what filters and dedup windows see, and what the sender's permissions
// allow: a body that names another build would be counted under the wrong
// key.
func fromSubject(subj string, res *streams.Result) error {
	_, _, sender, err := streams.ParseResultSubject(subj)
	want := streams.ResultSubject(res.BuildKey, res.Attempt, sender)
	if err == nil && sender == "" {
		// An earlier version's subject, without a sender.
		want = strings.TrimSuffix(want, ".")
	}
	if err != nil || subj != want {
		return fmt.Errorf("result for %s attempt %d arrived on subject %q, want %q",
			res.BuildKey, res.Attempt, subj, streams.ResultSubject(res.BuildKey, res.Attempt, "SENDER"))
	}
	res.Sender = sender
	return nil
}

// open starts the state of the experiment whose record is rec.
func (r *Reporter) open(st *run, rec *streams.Experiment) *experiment {
	e := newExperiment(rec.Name, r.cfg.confirmations())
	e.setRecord(rec)
	e.onDispute = r.disputeLogger()
	e.web = strings.TrimSuffix(r.cfg.WebURL, "/")
	st.exps[rec.Name] = e
	if rec.Baseline != "" {
		st.baselineDue = time.Now() // read it before the first report
	}
	r.log.Info().Str("experiment", e.name).Strs("toolchains", rec.Toolchains).
		Int("jobs", rec.Jobs).Msg("experiment record found")
	return e
}

// await sets res aside until its experiment's record comes (pending.go).
// A signed result is checked at once, unless the feed did (vouched): its
// MAC does not depend on the record.
func (r *Reporter) await(ctx context.Context, st *run, msg jetstream.Msg, res *streams.Result, seq uint64, vouched bool) {
	signed := res.MAC != ""
	if key := r.cfg.JobKey; signed && !key.IsZero() && !vouched {
		if err := key.VerifyResult(res); err != nil {
			r.deadLetter(ctx, st, msg, err)
			return
		}
	}
	// The grace counts from when the stream stored the result, so that a
	// restarted reporter does not hold again what it refused before.
	now := time.Now()
	stored := now
	if md, err := msg.Metadata(); err == nil && md.Timestamp.Before(now) {
		stored = md.Timestamp
	}
	p := pendingResult{subject: msg.Subject(), data: bytes.Clone(msg.Data()), seq: seq, signed: signed}
	if err := st.pending.add(res.Experiment, p, stored.Add(r.cfg.RecordGrace)); err != nil {
		r.deadLetter(ctx, st, msg, err)
	}
}

// settle judges the results that waited for record rec, now come.
func (r *Reporter) settle(ctx context.Context, st *run, rec *streams.Experiment, w *waiting) {
	var e *experiment
	for _, p := range w.results {
		var res streams.Result
		err := st.decoder.Decode(p.data, &res)
		if err == nil {
			err = fromSubject(p.subject, &res)
		}
		if err == nil {
			err = r.vouch(rec, &res)
		}
		if err != nil {
			r.refuse(ctx, st, p.subject, p.data, p.seq, err)
			continue
		}
		r.met.ingested.Inc()
		if e == nil {
			if e = st.exps[rec.Name]; e == nil {
				e = r.open(st, rec)
			}
		}
		if e.apply(&res, r.strayLogger(e.name)) {
			e.lastResult = time.Now()
			e.markDirty(e.lastResult, r.cfg.Debounce)
		}
	}
}

// refuseExpired refuses a batch of the results whose record did not come
// within the grace: without one they cannot be judged, and with a job key
// an experiment without a record is taken as one whose results must be
// signed.
func (r *Reporter) refuseExpired(ctx context.Context, st *run, now time.Time) {
	for _, w := range st.pending.expired(now, refuseBatch) {
		for _, p := range w.results {
			err := fmt.Errorf("%w: none for experiment %q within %s of the result", errNoRecord, w.name, r.cfg.RecordGrace)
			if !p.signed && !r.cfg.JobKey.IsZero() {
				err = fmt.Errorf("%w, so it is taken as one whose jobs carry tickets: %w", err, streams.ErrNoMAC)
			}
			r.refuse(ctx, st, p.subject, p.data, p.seq, err)
		}
	}
}

// disputeLogger returns what apply calls for a build whose results from
// two builder users disagree.
func (r *Reporter) disputeLogger() func(held *kept, came *streams.Result) {
	return func(held *kept, came *streams.Result) {
		r.met.disputed.Inc()
		r.log.Error().Str("build", came.BuildKey.String()).
			Str("sender", held.Sender).Int("attempt", held.Attempt).Str("status", string(held.Status)).Str("reason", string(held.Reason)).
			Str("other_sender", came.Sender).Int("other_attempt", came.Attempt).Str("other_status", string(came.Status)).Str("other_reason", string(came.Reason)).
			Msg("two builders disagree on a build: it is reported as an error (disputed); one of them, or its credential, is suspect. Retry the crate once it is found")
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
func (r *Reporter) deadLetter(ctx context.Context, st *run, msg jetstream.Msg, reason error) {
	r.refuse(ctx, st, msg.Subject(), msg.Data(), streams.StreamSeq(msg), reason)
}

// refuse is deadLetter for a message of the results stream given as its
// subject, data and sequence. The dead letter is published once, and the
// message is not terminated: the reporter reads the results stream with
// an ordered consumer. A refused result is deleted from the stream once
// its dead letter is stored: the stream keeps few results per subject and
// refuses more, so refusals left there (forgeries, messages that do not
// decode or name another build than their subject) would have the genuine
// result of that attempt refused. Only a result refused for want of its
// experiment's record alone stays, so that a reporter restarted once the
// record is back counts it.
func (r *Reporter) refuse(ctx context.Context, st *run, subject string, data []byte, seq uint64, reason error) {
	log := r.log.With().Str("subject", subject).Uint64("seq", seq).
		Int("bytes", len(data)).Logger()
	log.Warn().Err(reason).Msg("refusing result, moving it to the dead stream")
	r.met.refused.Inc()
	dead := streams.NewDeadMsg(subject, data, streams.ResultsStream, seq, reason, r.sender)
	r.cfg.JobKey.SignMsgID(dead)
	if _, err := r.js.PublishMsg(ctx, dead); err != nil {
		if ctx.Err() == nil {
			// The message is still in the results stream; nothing is lost.
			log.Error().Err(err).Msg("publishing dead letter")
		}
		return
	}
	if seq == 0 || errors.Is(reason, errNoRecord) && !errors.Is(reason, streams.ErrNoMAC) {
		return
	}
	if err := st.resultsStream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && ctx.Err() == nil {
		log.Error().Err(err).Msg("deleting a refused result from the results stream; the genuine one may be refused there")
	}
}
