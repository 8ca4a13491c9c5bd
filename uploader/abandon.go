package uploader

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// abandonEarlier asks for the logs of the earlier attempts of k that never
// got their end marker to be stored as abandoned, now that attempt has
// finished: their builders are gone. The sweep finds such logs too, but by
// a later attempt still on the stream; a short build is stored and purged
// from the stream long before the next sweep, which would then wait for
// Config.AbandonAfter instead.
func (u *Uploader) abandonEarlier(ctx context.Context, logs jetstream.Stream, k streams.BuildKey, attempt int) error {
	if attempt <= 1 {
		// Most logs: there is no earlier attempt, and listing a build's
		// subjects costs the server a scan of the stream's subjects.
		return nil
	}
	info, err := logs.Info(ctx, jetstream.WithSubjectFilter(streams.BuildLogsFilter(k)))
	if err != nil {
		return fmt.Errorf("list earlier attempts of %s: %w", k, err)
	}
	var uploads jetstream.Stream
	for subj := range info.State.Subjects {
		_, a, err := streams.ParseLogSubject(subj)
		if err != nil || a >= attempt {
			continue
		}
		last, err := logs.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // stored and purged since the listing
		}
		if err != nil {
			return fmt.Errorf("last message of %s: %w", subj, err)
		}
		l := attemptLog{subj: subj, key: k, attempt: a}
		if done, err := complete(ctx, u.logTicket, l, last); err != nil || done {
			if err != nil {
				return err
			}
			continue // complete: its builder asked for its upload itself
		}
		if uploads == nil {
			if uploads, err = u.js.Stream(ctx, streams.UploadsStream); err != nil {
				return fmt.Errorf("open %s: %w", streams.UploadsStream, err)
			}
		}
		reason := fmt.Sprintf("attempt %d of the same build finished", attempt)
		if err := u.askAbandoned(ctx, uploads, l, reason); err != nil {
			return err
		}
	}
	return nil
}

// askAbandoned publishes the request to store l as abandoned for reason,
// unless one was published already. A builder's request for a log without
// an end marker does not count: it waits for a marker that may never come.
func (u *Uploader) askAbandoned(ctx context.Context, uploads jetstream.Stream, l attemptLog, reason string) error {
	_, err := uploads.GetLastMsgForSubject(ctx, streams.AbandonedUploadSubject(l.key, l.attempt))
	if err == nil {
		return nil // already asked for
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("look up upload request of %s: %w", l.subj, err)
	}
	m, err := streams.NewAbandonedUploadMsg(l.key, l.attempt, reason)
	if err != nil {
		return err
	}
	u.cfg.JobKey.SignMsgID(m)
	if _, err := u.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("ask to store abandoned log %s: %w", l.subj, err)
	}
	u.log.Warn().Str("subject", l.subj).Str("reason", reason).Msg("log abandoned by its builder; asked to store it as it is")
	return nil
}
