package uploader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// sweep scans LogsStream every SweepInterval for abandoned logs and reports
// the backlog, until ctx ends. Every replica sweeps; the abandoned request's
// Nats-Msg-Id and the check for a queued request keep them from asking
// twice.
func (u *Uploader) sweep(ctx context.Context, logs, uploads jetstream.Stream) {
	t := time.NewTicker(u.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := u.sweepOnce(ctx, logs, uploads); err != nil && ctx.Err() == nil {
			u.log.Warn().Err(err).Msg("sweep for abandoned logs; will retry")
		}
	}
}

// attemptLog is one log subject on LogsStream.
type attemptLog struct {
	subj    string
	key     streams.BuildKey
	attempt int
}

// sweepOnce asks for every abandoned log to be stored. A log is abandoned
// when its last message is not an end marker and either a later attempt of
// the same build has started (the job went to another builder, so this
// attempt's builder is gone) or nothing was added for as long as its
// experiment allows (silence.go).
func (u *Uploader) sweepOnce(ctx context.Context, logs, uploads jetstream.Stream) error {
	info, err := logs.Info(ctx, jetstream.WithSubjectFilter(streams.LogsFilter))
	if err != nil {
		return fmt.Errorf("list logs on %s: %w", streams.LogsStream, err)
	}
	// A log with an upload request waiting is complete (its builder asked)
	// or already asked for: one listing of the requests spares a request
	// per such log, which with 100k logs waiting was 100k requests a
	// sweep, on every replica.
	queued, err := uploads.Info(ctx, jetstream.WithSubjectFilter(streams.AllUploadsFilter))
	if err != nil {
		return fmt.Errorf("list upload requests on %s: %w", streams.UploadsStream, err)
	}
	u.reportBacklog(info, queued)

	var all []attemptLog
	sil := u.newSilences()
	started := map[attemptLog]bool{}
	latest := map[streams.BuildKey]int{}
	for subj := range info.State.Subjects {
		k, a, err := streams.ParseLogSubject(subj)
		if err != nil {
			continue // not ours to judge; nothing else publishes there
		}
		all = append(all, attemptLog{subj, k, a})
		latest[k] = max(latest[k], a)
	}
	for _, l := range all {
		if ctx.Err() != nil {
			return nil
		}
		if _, ok := queued.State.Subjects[streams.UploadSubject(l.key, l.attempt)]; ok {
			continue
		}
		last, err := logs.GetLastMsgForSubject(ctx, l.subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // stored and purged since the listing
		}
		if err != nil {
			return fmt.Errorf("last message of %s: %w", l.subj, err)
		}
		if done, err := u.complete(ctx, l, last); err != nil || done {
			if err != nil {
				return err
			}
			continue // complete; its builder asks for the upload
		}
		later, err := u.laterStarted(ctx, logs, l, latest[l.key], started)
		if err != nil {
			return err
		}
		var reason string
		switch idle := time.Since(last.Time); {
		case later:
			reason = fmt.Sprintf("attempt %d of the same build started", latest[l.key])
		case sil.abandoned(ctx, l.key.Experiment, idle):
			reason = fmt.Sprintf("no output for %s", idle.Round(time.Second))
		default:
			continue
		}
		if err := u.askAbandoned(ctx, uploads, l, reason); err != nil {
			return err
		}
	}
	return nil
}

// reportBacklog logs what waits: logs in flight on the stream and upload
// requests not yet done. While uploads fail (a storage outage) it is a
// warning, so the operator sees the backlog grow.
func (u *Uploader) reportBacklog(logs, uploads *jetstream.StreamInfo) {
	ev := u.log.Debug()
	if f := u.failures.Load(); f > 0 {
		ev = u.log.Warn().Int64("failed_uploads", f)
	}
	ev = ev.Uint64("upload_requests", uploads.State.Msgs)
	u.met.backlog(logs, uploads)
	ev.Int("logs_in_flight", len(logs.State.Subjects)).Uint64("log_bytes", logs.State.Bytes).Msg("upload backlog")
}

// laterStarted reports whether attempt latest of l's build, later than l,
// has started: its log's first message was signed by the builder handed
// its job (for an experiment whose jobs carry tickets), so that nobody can
// have a running attempt's log judged abandoned by publishing on a later
// attempt's subject. What it found for each later log is kept in seen for
// the rest of the sweep.
func (u *Uploader) laterStarted(ctx context.Context, logs jetstream.Stream, l attemptLog, latest int, seen map[attemptLog]bool) (bool, error) {
	if latest <= l.attempt {
		return false, nil
	}
	later := attemptLog{subj: streams.LogSubject(l.key, latest), key: l.key, attempt: latest}
	if ok, found := seen[later]; found {
		return ok, nil
	}
	ticket, err := u.logTicket(ctx, later.key, later.attempt)
	if err != nil {
		return false, err
	}
	ok := true
	if ticket != "" {
		first, err := firstSigned(ctx, logs, later.subj, ticket)
		if err != nil {
			return false, fmt.Errorf("%s: %w", later.subj, err)
		}
		ok = first != nil // none: forged, or stored and purged since the listing
	}
	seen[later] = ok
	return ok, nil
}

// complete reports whether last, the last message of l's log, is an end
// marker its builder signed (any end marker, for an experiment whose jobs
// carry no tickets): a forged one must not keep a dead builder's log from
// being judged abandoned.
func (u *Uploader) complete(ctx context.Context, l attemptLog, last *jetstream.RawStreamMsg) (bool, error) {
	if last.Header.Get(buildlog.HdrKind) != buildlog.KindEnd {
		return false, nil
	}
	ticket, err := u.logTicket(ctx, l.key, l.attempt)
	if err != nil {
		return false, err
	}
	return ticket == "" || buildlog.Signed(l.subj, last.Header, last.Data, ticket), nil
}
