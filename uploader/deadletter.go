package uploader

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter.
const (
	hdrDeadReason  = "Ejecta-Dead-Reason"
	hdrDeadSubject = "Ejecta-Dead-Subject" // where the message was
)

// maxReasonBytes keeps a reason readable and well inside a header.
const maxReasonBytes = 1024

// deadLetter keeps msg, unchanged, on the dead stream of experiment exp with
// the reason it cannot be processed, then terminates it. If the dead letter
// cannot be published the request is retried later instead: a poison
// message is evidence and must not vanish.
func (u *Uploader) deadLetter(ctx context.Context, msg jetstream.Msg, exp string, reason error) {
	why := headerSafe(reason.Error())
	log := u.log.With().Str("subject", msg.Subject()).Str("experiment", exp).Str("reason", why).Logger()

	dm := nats.NewMsg(streams.DeadSubject(exp))
	dm.Data = msg.Data()
	dm.Header.Set(hdrDeadReason, why)
	dm.Header.Set(hdrDeadSubject, msg.Subject())
	if md, err := msg.Metadata(); err == nil {
		// A retry of this very dead-lettering (the Term was lost) is dropped.
		dm.Header.Set(nats.MsgIdHdr, md.Stream+"#"+strconv.FormatUint(md.Sequence.Stream, 10))
	}
	if _, err := u.js.PublishMsg(ctx, dm); err != nil {
		delay := u.cfg.retryDelay(deliveries(msg))
		log.Error().Err(err).Dur("retry_in", delay).Msg("poison upload request; could not dead-letter it, will retry")
		msg.NakWithDelay(delay)
		return
	}
	if err := msg.TermWithReason(why); err != nil {
		log.Warn().Err(err).Msg("dead-lettered upload request but could not terminate it")
		return
	}
	log.Error().Str("dead_subject", dm.Subject).Msg("poison upload request dead-lettered")
}

// experimentOf digs the experiment out of a request that failed to decode,
// so its dead letter is filed with the experiment when possible.
// streams.DeadSubject files names that are not valid under a reserved token.
func experimentOf(data []byte) string {
	var probe struct {
		Experiment string `json:"experiment"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	return probe.Experiment
}

// headerSafe makes s fit in a NATS header value: no control bytes (a CR or
// LF would end the header), bounded length.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxReasonBytes {
		s = strings.ToValidUTF8(s[:maxReasonBytes], "") + "..."
	}
	return s
}
