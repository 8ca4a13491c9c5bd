package uploader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
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

// A sweep reads the last message of every log once, through
// streams.LastLogMessagesConsumer, sweepBatch messages at a time: what it
// holds does not grow with the number of logs waiting. It used to list
// every log subject and every upload request, a map entry each (20 MiB
// live with 100k logs waiting, see BENCHMARKS.md).
//
// Whether a log has an upload request queued is asked of the uploads
// stream for each log judged abandoned, and only for those: the uploads
// stream is a work queue, where no second consumer may read what the
// uploaders' consumer takes, so its requests cannot be streamed beside the
// logs; and a log is judged abandoned rarely (a builder died, or a later
// attempt started), so the lookups are few where a listing of every
// request was as large as the backlog.
const (
	// sweepBatch is how many messages a sweep fetches at a time (each at
	// most streams.MaxMessageBytes; most are a log's last chunk or its
	// end marker, a few hundred bytes).
	sweepBatch = 256
	// sweepWait is how long a sweep waits for a batch before it takes the
	// pass as done.
	sweepWait = 10 * time.Second
)

// sweepPass is what one sweep remembers, none of it per log: how long
// each experiment's logs may stay silent, which experiments' jobs carry
// tickets, and which later attempts were found started (at most a
// batch's worth).
type sweepPass struct {
	u        *Uploader
	sil      *silences
	ticketed map[string]bool
	started  map[attemptLog]bool
}

// sweepOnce asks for every abandoned log to be stored. A log is abandoned
// when its last message is not an end marker and either a later attempt of
// the same build has started (the job went to another builder, so this
// attempt's builder is gone) or nothing was added for as long as its
// experiment allows (silence.go).
func (u *Uploader) sweepOnce(ctx context.Context, logs, uploads jetstream.Stream) error {
	// Read before the consumer is made: the pass ends at the stream's
	// last message then, and later messages wait for the next sweep.
	info, err := logs.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", streams.LogsStream, err)
	}
	queued, err := uploads.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", streams.UploadsStream, err)
	}
	if info.State.Msgs == 0 {
		u.reportBacklog(0, info.State.Bytes, queued.State.Msgs)
		return nil
	}
	cons, err := u.js.CreateConsumer(ctx, streams.LogsStream, streams.LastLogMessagesConsumer())
	if err != nil {
		return fmt.Errorf("read the last message of every log on %s: %w", streams.LogsStream, err)
	}
	defer u.deleteSweepConsumer(ctx, cons)
	p := &sweepPass{u: u, sil: u.newSilences(), ticketed: map[string]bool{}, started: map[attemptLog]bool{}}
	n, err := readLastMessages(ctx, cons, info.State.LastSeq, func(last *jetstream.RawStreamMsg) error {
		if len(p.started) >= sweepBatch {
			clear(p.started)
		}
		return u.sweepLog(ctx, p, logs, uploads, last)
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	u.reportBacklog(n, info.State.Bytes, queued.State.Msgs)
	return nil
}

// readLastMessages hands each message cons delivers to each, in order,
// sweepBatch at a time, up to the one at stream sequence stop, and says
// how many it handed. It stops early, without an error, when ctx ends.
func readLastMessages(ctx context.Context, cons jetstream.Consumer, stop uint64, each func(*jetstream.RawStreamMsg) error) (int, error) {
	n := 0
	for {
		// One wait per batch, not per message: a sweep reads a message
		// per log.
		fctx, cancel := context.WithTimeout(ctx, sweepWait)
		got, done, err := readBatch(fctx, cons, stop, func(last *jetstream.RawStreamMsg) error {
			n++
			return each(last)
		})
		cancel()
		switch {
		case ctx.Err() != nil:
			return n, nil
		case err != nil:
			return n, fmt.Errorf("read the last message of every log on %s: %w", streams.LogsStream, err)
		case done || got == 0: // nothing more came: every log was seen
			return n, nil
		}
	}
}

// readBatch is one fetch of readLastMessages: how many messages came, and
// whether the pass is done (the last message pending, or one past stop).
func readBatch(ctx context.Context, cons jetstream.Consumer, stop uint64, each func(*jetstream.RawStreamMsg) error) (int, bool, error) {
	batch, err := cons.Fetch(sweepBatch, jetstream.FetchContext(ctx))
	if err != nil {
		return 0, false, err
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		md, err := msg.Metadata()
		if err != nil {
			return got, false, err
		}
		if md.Sequence.Stream > stop {
			return got, true, nil // published since the pass began
		}
		last := &jetstream.RawStreamMsg{Subject: msg.Subject(), Sequence: md.Sequence.Stream,
			Header: msg.Headers(), Data: msg.Data(), Time: md.Timestamp}
		if err := each(last); err != nil {
			return got, false, err
		}
		if md.NumPending == 0 {
			return got, true, nil
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		return got, false, err
	}
	return got, false, nil
}

// deleteSweepConsumer deletes a sweep's consumer now, ctx ended or not,
// rather than leaving it to the server's inactivity clean-up.
func (u *Uploader) deleteSweepConsumer(ctx context.Context, cons jetstream.Consumer) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	name := cons.CachedInfo().Name
	if err := u.js.DeleteConsumer(dctx, streams.LogsStream, name); err != nil {
		u.log.Debug().Err(err).Str("consumer", name).Msg("the server will expire the sweep's consumer")
	}
}

// sweepLog judges the log whose last message, as the pass read it, is
// last. What it reads looks at this log alone: the log's later attempts
// on the stream for one still being written, and for one that looks
// abandoned, what is on the streams now (the pass's message may be
// minutes old by then).
func (u *Uploader) sweepLog(ctx context.Context, p *sweepPass, logs, uploads jetstream.Stream, last *jetstream.RawStreamMsg) error {
	k, a, err := streams.ParseLogSubject(last.Subject)
	if err != nil {
		return u.purgeJunk(ctx, logs, last)
	}
	l := attemptLog{subj: last.Subject, key: k, attempt: a}
	if done, err := complete(ctx, p.logTicket, l, last); err != nil || done {
		return err // complete; its builder asks for the upload
	}
	latest, err := latestAttempt(ctx, logs, k)
	if err != nil {
		return err
	}
	later, err := laterStarted(ctx, p.logTicket, logs, l, latest, p.started)
	if err != nil {
		return err
	}
	if !later && !p.sil.abandoned(ctx, k.Experiment, time.Since(last.Time)) {
		return nil
	}

	// Abandoned, as the pass saw it. A log with an upload request waiting
	// is complete (its builder asked) or already asked for.
	_, err = uploads.GetLastMsgForSubject(ctx, streams.UploadSubject(k, a))
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("look up upload request of %s: %w", l.subj, err)
	}
	now, err := logs.GetLastMsgForSubject(ctx, l.subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // stored and purged since
	}
	if err != nil {
		return fmt.Errorf("last message of %s: %w", l.subj, err)
	}
	if done, err := complete(ctx, p.logTicket, l, now); err != nil || done {
		return err
	}
	var reason string
	switch idle := time.Since(now.Time); {
	case later:
		reason = fmt.Sprintf("attempt %d of the same build started", latest)
	case p.sil.abandoned(ctx, k.Experiment, idle):
		reason = fmt.Sprintf("no output for %s", idle.Round(time.Second))
	default:
		return nil
	}
	return u.askAbandoned(ctx, uploads, l, reason)
}

// latestAttempt is the latest attempt of k with a log on the stream (0:
// none).
func latestAttempt(ctx context.Context, logs jetstream.Stream, k streams.BuildKey) (int, error) {
	info, err := logs.Info(ctx, jetstream.WithSubjectFilter(streams.BuildLogsFilter(k)))
	if err != nil {
		return 0, fmt.Errorf("list the attempts of %s: %w", k, err)
	}
	latest := 0
	for subj := range info.State.Subjects {
		if _, a, err := streams.ParseLogSubject(subj); err == nil {
			latest = max(latest, a)
		}
	}
	return latest, nil
}

// logTicket is Uploader.logTicket, with whether each experiment's jobs
// carry tickets read once in the pass: every complete log waiting for its
// upload is judged by its end marker, and most share an experiment.
func (p *sweepPass) logTicket(ctx context.Context, k streams.BuildKey, attempt int) (string, error) {
	return p.u.logTicketWith(ctx, p.isTicketed, k, attempt)
}

func (p *sweepPass) isTicketed(ctx context.Context, exp string) (bool, error) {
	if ticketed, ok := p.ticketed[exp]; ok {
		return ticketed, nil
	}
	ticketed, err := p.u.ticketed(ctx, exp)
	if err != nil {
		return false, err
	}
	p.ticketed[exp] = ticketed
	return ticketed, nil
}

// reportBacklog logs what waits: logs in flight on the stream and upload
// requests not yet done. While uploads fail (a storage outage) it is a
// warning, so the operator sees the backlog grow.
func (u *Uploader) reportBacklog(logs int, logBytes, requests uint64) {
	ev := u.log.Debug()
	if f := u.failures.Load(); f > 0 {
		ev = u.log.Warn().Int64("failed_uploads", f)
	}
	ev = ev.Uint64("upload_requests", requests)
	u.met.backlog(logs, logBytes, requests)
	ev.Int("logs_in_flight", logs).Uint64("log_bytes", logBytes).Msg("upload backlog")
}

// laterStarted reports whether attempt latest of l's build, later than l,
// has started: its log's first message was signed by the builder handed
// its job (for an experiment whose jobs carry tickets), so that nobody can
// have a running attempt's log judged abandoned by publishing on a later
// attempt's subject. What it found for each later log is kept in seen.
func laterStarted(ctx context.Context, logTicket ticketFunc, logs jetstream.Stream, l attemptLog, latest int, seen map[attemptLog]bool) (bool, error) {
	if latest <= l.attempt {
		return false, nil
	}
	later := attemptLog{subj: streams.LogSubject(l.key, latest), key: l.key, attempt: latest}
	if ok, found := seen[later]; found {
		return ok, nil
	}
	ticket, err := logTicket(ctx, later.key, later.attempt)
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
// being judged abandoned. logTicket is asked only of an end marker.
func complete(ctx context.Context, logTicket ticketFunc, l attemptLog, last *jetstream.RawStreamMsg) (bool, error) {
	if last.Header.Get(buildlog.HdrKind) != buildlog.KindEnd {
		return false, nil
	}
	ticket, err := logTicket(ctx, l.key, l.attempt)
	if err != nil {
		return false, err
	}
	return ticket == "" || buildlog.Signed(l.subj, last.Header, last.Data, ticket), nil
}

// purgeJunk purges a subject of LogsStream that is no build's log (an
// attempt no run has, a token that does not decode), once it has been
// silent for Config.AbandonAfter: no builder publishes there, nothing
// there is ever stored, and left alone it would fill the stream for good.
// last is its last message as the pass read it; one that looks silent is
// judged again by what is on the stream now.
func (u *Uploader) purgeJunk(ctx context.Context, logs jetstream.Stream, last *jetstream.RawStreamMsg) error {
	if time.Since(last.Time) < u.cfg.AbandonAfter {
		return nil
	}
	subj := last.Subject
	last, err := logs.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last message of %s: %w", subj, err)
	}
	if time.Since(last.Time) < u.cfg.AbandonAfter {
		return nil
	}
	if err := u.purgeThrough(ctx, logs, subj, last.Sequence); err != nil {
		return err
	}
	u.log.Warn().Str("subject", streams.Bounded(subj)).Msg("purged messages on a subject of the logs stream that is no build's log")
	return nil
}
