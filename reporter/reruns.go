package reporter

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// rerunKey is one re-run job: a build of a crate in one round.
type rerunKey struct {
	cs        *crateState
	gen       int
	round     int
	toolchain int
}

// rounds is how many re-runs a crate's verdict waits for.
func (e *experiment) rounds(cs *crateState) int {
	return rounds(cs.runs.compare().Class, cs.runs.shared(), e.confirmations)
}

// requestReruns queues the confirmation re-runs the unconfirmed crates of e
// still lack. It waits until the replay has caught up with the results
// stream, so that the re-runs of an earlier reporter are seen before any is
// asked for again.
//
// A re-run is queued at most once: besides the Nats-Msg-Id (which only
// holds for the duplicate window), the jobs stream is asked whether the job
// is still queued and the results stream whether it has run. A builder
// publishes the result before it acks the job, so looking in that order
// cannot miss a job that is between the two.
//
// It reports false if it had to stop early; the caller tries again later.
func (r *Reporter) requestReruns(ctx context.Context, st *run, e *experiment) bool {
	if !st.caughtUp || e.rec == nil || len(e.unconfirmed) == 0 {
		return true
	}
	if e.rec.State == streams.ExperimentAborted {
		// Nothing of it is built any more; its report keeps the
		// regressions as they stand.
		return true
	}
	for cs := range e.unconfirmed {
		if e.awaitsRoot(cs) {
			continue // its root's re-runs may confirm it (byroot.go)
		}
		for round := 1; round <= e.rounds(cs); round++ {
			for idx, tc := range e.rec.Toolchains {
				if round <= len(cs.reruns) && cs.reruns[round-1][idx] != nil {
					continue
				}
				key := rerunKey{cs, cs.gen, round, idx}
				if st.requested[key] {
					continue
				}
				k := streams.BuildKey{Experiment: e.name, Crate: cs.key.name, Version: cs.key.version, Toolchain: tc}
				log := r.log.With().Str("build", k.String()).Int("round", round).Logger()
				exists, err := r.rerunExists(ctx, st, e.rec, k, streams.AttemptBase(cs.gen, round))
				if err != nil {
					log.Warn().Err(err).Msg("looking for a re-run; will ask again")
					return false
				}
				if !exists {
					if _, err := producer.RetryRerun(ctx, r.js, r.cfg.JobKey, e.rec, k, cs.gen, round); err != nil {
						log.Warn().Err(err).Msg("queueing a re-run; will try again")
						return false
					}
					log.Info().Msg("confirmation re-run queued")
				}
				st.requested[key] = true
			}
		}
	}
	return true
}

// rerunExists reports whether the re-run of k (of experiment rec) whose
// attempts start after base is queued or has a result. A result that would
// be refused does not count: a forgery must not keep a regression from its
// re-runs.
func (r *Reporter) rerunExists(ctx context.Context, st *run, rec *streams.Experiment, k streams.BuildKey, base int) (bool, error) {
	// Re-runs are queued on their own subject; earlier versions queued
	// them on the first run's.
	for _, subj := range []string{streams.RerunSubject(k), streams.JobSubject(k)} {
		msg, err := st.jobs.GetLastMsgForSubject(ctx, subj)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return false, fmt.Errorf("look up queued job of %s: %w", k, err)
		default:
			var job streams.Job
			// Rounds are queued in order, so a later round queued means this
			// one was queued too.
			if streams.Decode(msg.Data, &job) == nil && job.AttemptBase >= base {
				return true, nil
			}
		}
	}
	msg, err := st.results.GetLastMsgForSubject(ctx, streams.BuildResultsFilter(k))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up results of %s: %w", k, err)
	}
	_, attempt, _, err := streams.ParseResultSubject(msg.Subject)
	if err != nil || attempt <= base {
		return false, nil
	}
	var res streams.Result
	if streams.Decode(msg.Data, &res) != nil {
		return false, nil
	}
	if err := r.vouch(rec, &res); err != nil {
		return false, nil
	}
	return true, nil
}
