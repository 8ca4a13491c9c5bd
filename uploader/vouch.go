package uploader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// Upload requests of an experiment whose jobs carry tickets are honoured
// only when signed with the ticket of their build and run
// (streams.JobKey), which only the builder handed that job knows; the log
// is then stored only if its bytes are what the signed request says. An
// end marker alone vouches for nothing: any builder may publish one on any
// log subject.

// judge decides how msg, which decoded to req, is to be done, from its
// subject and its signature; it settles a request that is not to be done
// at all (dead letter, or retry) and reports false.
func (u *Uploader) judge(ctx context.Context, msg jetstream.Msg, req *streams.UploadRequest, log zerolog.Logger) (uploadHow, bool) {
	// The subject is what the stream deduplicates by and what the
	// permissions judge: only uploaders publish on the abandoned one.
	k, attempt, abandoned, err := streams.ParseUploadSubject(msg.Subject())
	if err == nil && (k != req.BuildKey || attempt != req.Attempt) {
		err = fmt.Errorf("upload request for %s attempt %d arrived on subject %q", req.BuildKey, req.Attempt, msg.Subject())
	}
	if err != nil {
		u.deadLetter(ctx, msg, err)
		return uploadHow{}, false
	}
	reason := msg.Headers().Get(streams.HdrAbandoned)
	if abandoned {
		ticket, err := u.logTicket(ctx, k, attempt)
		if err != nil {
			delay := u.cfg.retryDelay(deliveries(msg))
			log.Warn().Err(err).Dur("retry_in", delay).Msg("cannot tell whether the log's messages must be signed; retrying")
			msg.NakWithDelay(delay)
			return uploadHow{}, false
		}
		return uploadHow{abandoned: cmp.Or(reason, "abandoned by its builder"), ticket: ticket}, true
	}
	if reason != "" {
		// Builders may publish here: one must not have another's live
		// log stored as abandoned and purged.
		log.Warn().Str("header", streams.Bounded(reason)).
			Msg("ignoring an abandoned header on a builder's upload request: only uploaders judge a log abandoned, on a subject of their own")
	}
	signed, refused, err := u.vouch(ctx, req)
	switch {
	case refused:
		u.deadLetter(ctx, msg, err)
		return uploadHow{}, false
	case err != nil:
		delay := u.cfg.retryDelay(deliveries(msg))
		log.Warn().Err(err).Dur("retry_in", delay).Msg("cannot tell whether the request must be signed; retrying")
		msg.NakWithDelay(delay)
		return uploadHow{}, false
	}
	how := uploadHow{signed: signed}
	if signed {
		// vouch checked the attempt is in a run's range.
		base, _ := streams.AttemptBaseOf(req.Attempt)
		how.ticket = u.cfg.JobKey.Ticket(req.BuildKey, base)
	}
	return how, true
}

// logTicket is the ticket whose signature the messages of attempt's log of
// k must carry: "" when the uploader holds no job key or the experiment's
// jobs carry no tickets. An error is a failure to retry.
func (u *Uploader) logTicket(ctx context.Context, k streams.BuildKey, attempt int) (string, error) {
	return u.logTicketWith(ctx, u.ticketed, k, attempt)
}

// ticketFunc is Uploader.logTicket or a stand-in that remembers what it
// read (sweepPass.logTicket).
type ticketFunc func(ctx context.Context, k streams.BuildKey, attempt int) (string, error)

// logTicketWith is logTicket, asking ticketed whether an experiment's jobs
// carry tickets.
func (u *Uploader) logTicketWith(ctx context.Context, ticketed func(context.Context, string) (bool, error), k streams.BuildKey, attempt int) (string, error) {
	if u.cfg.JobKey.IsZero() {
		return "", nil
	}
	base, err := streams.AttemptBaseOf(attempt)
	if err != nil {
		// ParseLogSubject and ParseUploadSubject refuse such an attempt
		// before anything asks.
		return "", fmt.Errorf("ticket of %s attempt %d: %w", k, attempt, err)
	}
	yes, err := ticketed(ctx, k.Experiment)
	if err != nil || !yes {
		return "", err
	}
	return u.cfg.JobKey.Ticket(k, base), nil
}

// errNotAsSigned marks a log on the stream that is not the one its signed
// request describes: no redelivery can make it so.
var errNotAsSigned = errors.New("the log on the stream is not the one its builder signed for")

// vouch checks req against the job key. It reports whether req is signed
// (and the stored log must match it), or an error: refused is true for a
// request to dead-letter, false for a failure to retry (the experiments
// bucket could not be read).
func (u *Uploader) vouch(ctx context.Context, req *streams.UploadRequest) (signed bool, refused bool, err error) {
	key := u.cfg.JobKey
	switch {
	case key.IsZero():
		return false, false, nil // tickets off: said once, at start
	case req.MAC != "":
		if err := key.VerifyUpload(req); err != nil {
			return false, true, err
		}
		return true, false, nil
	}
	ticketed, err := u.ticketed(ctx, req.Experiment)
	if err != nil {
		return false, false, err
	}
	if ticketed {
		return false, true, key.VerifyUpload(req) // streams.ErrNoMAC
	}
	return false, false, nil // an experiment from before tickets
}

// ticketed reports whether experiment exp's jobs carry tickets. An
// experiment without a record (deleted, or never created) is taken to:
// with a job key set, every experiment created has tickets, and nobody may
// have logs stored under a name no experiment holds by leaving their
// requests unsigned.
func (u *Uploader) ticketed(ctx context.Context, exp string) (bool, error) {
	entry, err := u.experiments.Get(ctx, exp)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the record of experiment %s: %w", exp, err)
	}
	var rec streams.Experiment
	if err := streams.Decode(entry.Value(), &rec); err != nil {
		return false, fmt.Errorf("read the record of experiment %s: %w", exp, err)
	}
	return rec.Tickets, nil
}

// checkSigned compares what was read of a log with the signed request's
// end: the end marker on the stream, and the bytes themselves (those of a
// log stored with gaps, marked, cannot match and are not compared).
func checkSigned(want streams.LogEnd, res *buildlog.Reader, s *logSink) error {
	if res.End() == nil {
		return fmt.Errorf("%w: no end marker", errNotAsSigned)
	}
	got := *res.End()
	if got.Status != want.Status || got.ExitCode != want.ExitCode || got.Chunks != want.Chunks ||
		got.Bytes != want.Bytes || !strings.EqualFold(got.SHA256, want.SHA256) {
		return fmt.Errorf("%w: the end marker says %s, exit code %d, %d chunks, %d bytes, sha256 %s; the request %s, exit code %d, %d chunks, %d bytes, sha256 %s",
			errNotAsSigned, got.Status, got.ExitCode, got.Chunks, got.Bytes, streams.Bounded(got.SHA256),
			want.Status, want.ExitCode, want.Chunks, want.Bytes, streams.Bounded(want.SHA256))
	}
	if len(res.Gaps()) > 0 {
		return nil
	}
	if sum := res.SHA256(); s.bytes != want.Bytes || !strings.EqualFold(sum, want.SHA256) {
		return fmt.Errorf("%w: read %d bytes with sha256 %s, the request says %d bytes with sha256 %s",
			errNotAsSigned, s.bytes, sum, want.Bytes, streams.Bounded(want.SHA256))
	}
	return nil
}
