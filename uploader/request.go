package uploader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// logContentType is what the store records for a log. Logs are mostly
// UTF-8 but may hold any byte; a viewer must escape them whatever this says.
const logContentType = "text/plain; charset=utf-8"

// errLost marks a request whose log is neither on LogsStream nor in the
// store: no redelivery can bring it back.
var errLost = errors.New("log is not on the logs stream and not in the store")

// handle settles one upload request: ack, nak with delay, or dead letter.
func (u *Uploader) handle(ctx context.Context, logs jetstream.Stream, msg jetstream.Msg) {
	var req streams.UploadRequest
	if err := streams.Decode(msg.Data(), &req); err != nil {
		u.deadLetter(ctx, msg, err)
		return
	}
	log := u.log.With().
		Str("experiment", req.Experiment).Str("crate", req.Crate).Str("version", req.Version).
		Str("toolchain", req.Toolchain).Int("attempt", req.Attempt).Logger()

	how, ok := u.judge(ctx, msg, &req, log)
	if !ok {
		return
	}
	how.lenient = deliveries(msg) > uint64(u.cfg.LenientAfter)
	stop := keepAlive(msg, u.cfg.ProgressInterval, log)
	start := time.Now()
	u.met.inFlight.Inc()
	n, fresh, err := u.upload(ctx, logs, req, how, log)
	u.met.inFlight.Dec()
	stop()
	if err == nil {
		u.failures.Store(0)
	}

	switch {
	case err == nil && !fresh:
		if err := ack(ctx, msg); err != nil {
			log.Warn().Err(err).Msg("ack of a finished request not confirmed")
		}
	case err == nil:
		u.met.stored.Inc()
		u.met.bytes.Add(float64(n))
		u.met.latency.Observe(time.Since(start).Seconds())
		// Wait for the server's word: an ack lost on the way would have
		// another replica find the log purged and the object stored, which
		// is fine, but the log line below should not claim more than it knows.
		if err := ack(ctx, msg); err != nil {
			log.Warn().Err(err).Msg("log stored but the ack was not confirmed; a redelivery will find it done")
			return
		}
		log.Info().Uint64("bytes", n).Dur("took", time.Since(start)).Msg("log stored")
		if how.abandoned == "" {
			if err := u.abandonEarlier(ctx, logs, req.BuildKey, req.Attempt); err != nil {
				log.Warn().Err(err).Msg("looking for earlier attempts left by a dead builder; the sweep will find them")
			}
		}
	case ctx.Err() != nil:
		// Shutting down: hand the request to another replica now rather
		// than after AckWait.
		msg.Nak()
		log.Info().Msg("upload interrupted by shutdown; request given back")
	case errors.Is(err, errLost), errors.Is(err, errUnstitchable), errors.Is(err, errNotAsSigned), unreadable(how, err):
		u.deadLetter(ctx, msg, err)
	default:
		u.failures.Add(1)
		u.met.failed.Inc()
		delay := u.cfg.retryDelay(deliveries(msg))
		ev := log.Error().Err(err).Dur("retry_in", delay)
		var le *buildlog.Error
		if errors.As(err, &le) {
			ev = ev.Uint64("seq", le.Seq).Uint64("bytes", le.Bytes)
		}
		ev.Msg("upload failed")
		msg.NakWithDelay(delay)
	}
}

// unreadable reports whether err, the failure of a lenient read (one that
// marks holes instead of failing on them), is the log's own fault: an end
// marker that disagrees with the bytes, a message that cannot be read where
// no hole can stand for it, no end marker where its request says there is
// one. No redelivery mends that; the request goes to the dead stream, the
// log stays on the stream for an operator. A store or stream failure is no
// *buildlog.Error and is retried.
func unreadable(how uploadHow, err error) bool {
	var le *buildlog.Error
	return how.lenient && errors.As(err, &le)
}

// uploadHow says how a request is to be done.
type uploadHow struct {
	// abandoned is the reason the attempt was judged abandoned, from the
	// streams.HdrAbandoned header of a request on
	// streams.AbandonedUploadSubject; "" for a finished log.
	abandoned string
	// lenient stores a log with holes (marked) instead of failing: the
	// request has been retried Config.LenientAfter times already.
	lenient bool
	// signed says the request carries a valid MAC (vouch.go): the log is
	// stored only if it is what the request says.
	signed bool
	// ticket is the ticket of the job whose log is stored, for an
	// experiment whose jobs carry tickets: only the messages signed with
	// it are read (buildlog.Verify). "" reads all.
	ticket string
}

// upload stores the log req names, purges it from the stream, and returns
// its size and true. A request whose log was already stored and purged is
// done without an upload: it returns 0 and false.
func (u *Uploader) upload(ctx context.Context, logs jetstream.Stream, req streams.UploadRequest, how uploadHow, log zerolog.Logger) (uint64, bool, error) {
	subj := streams.LogSubject(req.BuildKey, req.Attempt)
	metaKey := streams.ExperimentPrefix(req.Experiment) + streams.LogMetaKey(req.BuildKey, req.Attempt)

	last, err := logs.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		// The metadata is written last: if it is there, so is the rest.
		stored, err := u.stored(ctx, metaKey)
		switch {
		case err != nil:
			return 0, false, err
		case !stored:
			return 0, false, fmt.Errorf("upload %s: %w", subj, errLost)
		}
		log.Info().Str("object", u.st.Location(metaKey)).Msg("log already stored and purged; request was a redelivery")
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: look up log: %w", subj, err)
	}

	if how.abandoned != "" {
		// A complete log is never replaced by an abandoned one: what is on
		// the stream now came after it was stored (a replay of its
		// messages), and is purged.
		meta, err := u.storedMeta(ctx, metaKey)
		if err != nil {
			return 0, false, fmt.Errorf("upload %s: %w", subj, err)
		}
		if meta != nil && !meta.Abandoned {
			log.Warn().Uint64("through_seq", last.Sequence).Msg("messages on the subject of a log already stored complete, purged: a replay, or a builder writing after its end marker")
			return 0, false, u.purgeThrough(ctx, logs, subj, last.Sequence)
		}
	}
	// Only what the builder handed the job signed is read: anyone else's
	// messages on the subject are skipped.
	opts := []buildlog.Option{buildlog.Verify(how.ticket)}
	if how.lenient || how.abandoned != "" {
		opts = append(opts, buildlog.Lenient())
	}
	if how.abandoned != "" || how.ticket != "" {
		// A signed request is published after its log's end marker: a
		// read that skipped everything up to the stream's last message
		// has no genuine log to wait for.
		opts = append(opts, buildlog.Until(last.Sequence))
	}
	// A log stored as abandoned may go on: its start is then in the store
	// only (stitch.go).
	start, err := u.abandonedStart(ctx, logs, subj, metaKey, how.ticket)
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: %w", subj, err)
	}
	sink, err := u.newSink(ctx, req.BuildKey, req.Attempt)
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: %w", subj, err)
	}
	if start != nil {
		var resume buildlog.Option
		resume, err = u.writeStart(ctx, sink, req.BuildKey, req.Attempt, start, endOf(last, how.ticket))
		opts = append(opts, resume)
	}
	var res *buildlog.Reader
	if err == nil {
		res, err = u.copyLog(ctx, subj, sink, opts...)
	}
	if err != nil {
		sink.abort(err)
		return 0, false, fmt.Errorf("upload %s: %w", subj, stitchFailure(start, how, err))
	}
	if n := res.Skipped(); n > 0 {
		u.met.forged.Add(float64(n))
		log.Warn().Int("skipped", n).Msg("messages on the log's subject not signed with its job's ticket were skipped: someone other than its builder published there")
		if how.abandoned != "" && start == nil && sink.bytes == 0 && res.End() == nil {
			// Nothing of it is the builder's: there is no log to store.
			sink.abort(errNothingSigned)
			return 0, false, u.purgeThrough(ctx, logs, subj, res.LastSeq())
		}
	}
	if how.signed {
		if err := checkSigned(req.End, res, sink); err != nil {
			sink.abort(err)
			return 0, false, fmt.Errorf("upload %s: %w", subj, err)
		}
	}
	meta := streams.LogMeta{FirstAt: res.First(), LastAt: res.Last(), Gaps: res.Gaps(), SHA256: res.SHA256()}
	if start != nil {
		meta.FirstAt = start.FirstAt
		log.Info().Uint64("stored_bytes", start.Bytes).Msg("log judged abandoned went on; storing it whole over its abandoned start")
	}
	if end := res.End(); end != nil {
		meta.Status, meta.ExitCode = end.Status, end.ExitCode
		if how.abandoned == "" && !how.signed && req.End != *end {
			// The stream's end marker is what the bytes were checked
			// against; the copy in the request is informational.
			log.Warn().Interface("request_end", req.End).Interface("marker_end", *end).
				Msg("upload request and end marker disagree; stored what the end marker vouches for")
		}
	} else {
		meta.Abandoned, meta.AbandonedReason = true, how.abandoned
	}
	if err := sink.commit(meta); err != nil {
		return 0, false, fmt.Errorf("upload %s: %w", subj, err)
	}
	if gaps := res.Gaps(); len(gaps) > 0 {
		log.Error().Int("gaps", len(gaps)).Interface("first_gap", gaps[0]).
			Msg("log stored with missing chunks marked: they were gone from the stream")
	}
	if meta.Abandoned {
		log.Warn().Str("reason", how.abandoned).Uint64("bytes", sink.bytes).Msg("abandoned attempt's log stored and marked")
	}
	// Once stored, the chunks only take space that builders need: the stream
	// refuses new chunks when full. Only what was read is purged: an attempt
	// judged abandoned that was only slow keeps what it publishes next.
	if err := u.purgeThrough(ctx, logs, subj, res.LastSeq()); err != nil {
		return 0, false, fmt.Errorf("upload %s: stored, but %w", subj, err)
	}
	return sink.bytes, true, nil
}

// errNothingSigned is why an abandoned log none of whose messages its
// builder signed is not stored.
var errNothingSigned = errors.New("no message on the log's subject is signed with its job's ticket")

// purgeThrough purges the messages on subj up to stream sequence last.
func (u *Uploader) purgeThrough(ctx context.Context, logs jetstream.Stream, subj string, last uint64) error {
	fctx, cancel := finishing(ctx)
	defer cancel()
	if err := logs.Purge(fctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(last+1)); err != nil {
		return fmt.Errorf("purge %s: %w", subj, err)
	}
	return nil
}

// stored reports whether the store holds an object at key.
func (u *Uploader) stored(ctx context.Context, key string) (bool, error) {
	rc, err := u.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", key, err)
	}
	rc.Close()
	return true, nil
}

// finishTimeout bounds the bookkeeping after a log is stored.
const finishTimeout = 10 * time.Second

// finishing is the context for the purge and ack that follow a stored log:
// a shutdown arriving now should not throw away an upload that is done.
func finishing(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
}

// ack acknowledges msg and waits for the server to confirm it.
func ack(ctx context.Context, msg jetstream.Msg) error {
	fctx, cancel := finishing(ctx)
	defer cancel()
	return msg.DoubleAck(fctx)
}

// deliveries is how many times msg has been delivered, 1 if unknown.
func deliveries(msg jetstream.Msg) uint64 {
	md, err := msg.Metadata()
	if err != nil || md.NumDelivered == 0 {
		return 1
	}
	return md.NumDelivered
}
