package streams

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Headers of a dead letter on DeadStream. The payload is the refused
// message's data, unchanged up to MaxDeadDataBytes (but for a job's ticket).
const (
	HdrDeadReason  = "Ejecta-Dead-Reason"  // why it was refused
	HdrDeadSubject = "Ejecta-Dead-Subject" // the subject it arrived on
	HdrDeadSeq     = "Ejecta-Dead-Seq"     // its sequence in its stream
	// HdrDeadBytes is the refused message's size when its data was cut to
	// MaxDeadDataBytes.
	HdrDeadBytes = "Ejecta-Dead-Bytes"
)

// MaxDeadDataBytes bounds the refused data a dead letter keeps: the refused
// message may itself have filled the server's max_payload (1 MiB by
// default), and with the dead letter's headers it would not fit again.
const MaxDeadDataBytes = 512 << 10

// maxReasonBytes keeps a reason readable and well inside a header.
const maxReasonBytes = 1024

// NewDeadMsg is sender's dead letter of a refused message (data, as
// received on subject, at sequence seq of stream), on sender's dead
// subject of the experiment it names, if any. Its Nats-Msg-Id is derived
// from sender, stream and seq, so dead-lettering the same message twice (a
// retry, a replay) stores it once. A job's ticket is hidden in the copy:
// viewers read the dead stream.
func NewDeadMsg(subject string, data []byte, stream string, seq uint64, reason error, sender string) *nats.Msg {
	if stream == JobsStream {
		data = redactTicket(data)
	}
	m := nats.NewMsg(DeadSubject(ExperimentHint(data), sender))
	m.Data = data
	if len(data) > MaxDeadDataBytes {
		m.Data = data[:MaxDeadDataBytes]
		m.Header.Set(HdrDeadBytes, strconv.Itoa(len(data)))
	}
	m.Header.Set(HdrDeadReason, headerSafe(reason.Error()))
	m.Header.Set(HdrDeadSubject, headerSafe(subject))
	if seq > 0 {
		s := strconv.FormatUint(seq, 10)
		m.Header.Set(HdrDeadSeq, s)
		m.Header.Set(nats.MsgIdHdr, "dead:"+deadSender(sender)+":"+stream+"#"+s)
	}
	return m
}

// DeadLetter is sender's dead letter of msg, a message of stream refused
// for reason: NewDeadMsg with msg's subject, data and stream sequence.
func DeadLetter(msg jetstream.Msg, stream string, reason error, sender string) *nats.Msg {
	return NewDeadMsg(msg.Subject(), msg.Data(), stream, StreamSeq(msg), reason, sender)
}

// StreamSeq is msg's sequence in its stream, 0 when it has no JetStream
// metadata.
func StreamSeq(msg jetstream.Msg) uint64 {
	md, err := msg.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// Bury moves msg, a message of stream refused for reason, to the dead
// stream for an operator: it publishes sender's dead letter of msg (DeadLetter) with
// publish, which is the caller's policy (once, or retried until
// acknowledged), then terminates msg with the letter's reason so that
// JetStream stops delivering it. It says on log what became of msg and
// reports whether the letter is stored; when it is not, msg is left alone,
// for the caller to have it delivered again: a refused message is evidence
// and must not vanish.
func Bury(ctx context.Context, msg jetstream.Msg, stream string, reason error, sender string, publish func(context.Context, *nats.Msg) error, log zerolog.Logger) bool {
	dead := DeadLetter(msg, stream, reason, sender)
	log = log.With().Str("subject", msg.Subject()).Str("dead_subject", dead.Subject).
		Str("reason", dead.Header.Get(HdrDeadReason)).Logger()
	if err := publish(ctx, dead); err != nil {
		log.Error().Err(err).Msg("cannot store a refused message on the dead stream; it stays where it is")
		return false
	}
	if err := msg.TermWithReason(dead.Header.Get(HdrDeadReason)); err != nil {
		log.Warn().Err(err).Msg("refused message stored on the dead stream, but not terminated: it may come again")
		return true
	}
	log.Warn().Msg("refused message moved to the dead stream")
	return true
}

// ExperimentHint digs the experiment name out of a message that failed to
// decode, so that its dead letter is filed with its experiment; "" if there
// is none. DeadSubject validates what it returns.
func ExperimentHint(data []byte) string {
	var v struct {
		Experiment string `json:"experiment"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return v.Experiment
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
