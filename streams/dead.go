package streams

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
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

// NewDeadMsg files a refused message (data, as received on subject, at
// sequence seq of stream) under the dead subject of the experiment it names,
// if any. Its Nats-Msg-Id is derived from stream and seq, so dead-lettering
// the same message twice (a retry, a replay) stores it once. A job's
// ticket is hidden in the copy: viewers read the dead stream.
func NewDeadMsg(subject string, data []byte, stream string, seq uint64, reason error) *nats.Msg {
	if stream == JobsStream {
		data = redactTicket(data)
	}
	m := nats.NewMsg(DeadSubject(ExperimentHint(data)))
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
		m.Header.Set(nats.MsgIdHdr, "dead:"+stream+"#"+s)
	}
	return m
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
