package buildlog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/streams"
)

// A log travels on streams.LogSubject as a sequence of messages. Data
// chunks carry the raw bytes as their payload, so `nats sub
// 'ejecta.logs.<exp>.>'` shows the log itself; the framing is in headers.
// The last message of a complete log is an end marker whose payload is a
// JSON streams.LogEnd.
const (
	HdrKind   = "Ejecta-Kind"   // "chunk" or "end"
	HdrSeq    = "Ejecta-Seq"    // 1, 2, 3, ... per attempt, end marker included
	HdrOffset = "Ejecta-Offset" // byte offset of the chunk's first byte in the log
	HdrStream = "Ejecta-Stream" // stdout, stderr or system
	HdrTime   = "Ejecta-Time"   // when the chunk's first byte was written, RFC 3339 UTC with nanoseconds
	HdrMAC    = "Ejecta-MAC"    // streams.LogMAC under the job's ticket; absent for a job without one

	KindChunk = "chunk"
	KindEnd   = "end"
)

// Output streams a chunk can come from. "system" is what the builder itself
// writes into the log (the command it runs, why it stopped a task).
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamSystem = "system"
)

// MaxChunkBytes bounds a chunk's payload, well below NATS's default 1 MiB
// max_payload.
const MaxChunkBytes = 32 << 10

// Chunk is one framed piece of a log.
type Chunk struct {
	Seq    uint64
	Offset uint64
	Stream string
	Data   []byte
	// Time is when the chunk's first byte was written (zero: not recorded).
	Time time.Time
}

// NewChunkMsg frames c for subject subj. The Nats-Msg-Id makes a retried
// publish of the same chunk a no-op.
func NewChunkMsg(subj string, c Chunk) *nats.Msg {
	m := nats.NewMsg(subj)
	m.Header.Set(HdrKind, KindChunk)
	m.Header.Set(HdrSeq, strconv.FormatUint(c.Seq, 10))
	m.Header.Set(HdrOffset, strconv.FormatUint(c.Offset, 10))
	m.Header.Set(HdrStream, c.Stream)
	if !c.Time.IsZero() {
		m.Header.Set(HdrTime, c.Time.UTC().Format(time.RFC3339Nano))
	}
	m.Header.Set(nats.MsgIdHdr, subj+"#"+strconv.FormatUint(c.Seq, 10))
	m.Data = c.Data
	return m
}

// NewEndMsg frames the end marker of the log on subj; seq follows the last chunk.
func NewEndMsg(subj string, seq uint64, end streams.LogEnd) (*nats.Msg, error) {
	data, err := json.Marshal(end)
	if err != nil {
		return nil, fmt.Errorf("encode log end: %w", err)
	}
	m := nats.NewMsg(subj)
	m.Header.Set(HdrKind, KindEnd)
	m.Header.Set(HdrSeq, strconv.FormatUint(seq, 10))
	m.Header.Set(nats.MsgIdHdr, subj+"#"+strconv.FormatUint(seq, 10))
	m.Data = data
	return m, nil
}

// Sign sets m's MAC (HdrMAC) under ticket, the ticket of the job whose log
// m belongs to, once its framing and payload are final, and makes the MAC
// part of its Nats-Msg-Id: a message published ahead on the same subject
// and sequence by someone else must not have the stream drop the genuine
// one as its duplicate. An empty ticket leaves m unsigned.
func Sign(m *nats.Msg, ticket string) {
	mac := streams.LogMAC(ticket, m.Subject, framing(m.Header), m.Data)
	if mac == "" {
		return
	}
	m.Header.Set(HdrMAC, mac)
	m.Header.Set(nats.MsgIdHdr, streams.SignedMsgID(m.Header.Get(nats.MsgIdHdr), mac))
}

// Signed reports whether a message on subj, with headers h and payload
// data, carries the MAC of ticket.
func Signed(subj string, h nats.Header, data []byte, ticket string) bool {
	got := h.Get(HdrMAC)
	return got != "" && streams.EqualMAC(got, streams.LogMAC(ticket, subj, framing(h), data))
}

// framing is what of a log message's headers its MAC covers: everything
// a reader takes from them.
func framing(h nats.Header) []string {
	return []string{h.Get(HdrKind), h.Get(HdrSeq), h.Get(HdrOffset), h.Get(HdrStream), h.Get(HdrTime)}
}

// ParseMsg reads a message from LogsStream. Exactly one of the returned
// chunk and end is non-nil on success.
func ParseMsg(h nats.Header, data []byte) (*Chunk, *streams.LogEnd, error) {
	seq, err := strconv.ParseUint(h.Get(HdrSeq), 10, 64)
	if err != nil || seq == 0 {
		return nil, nil, fmt.Errorf("log message: bad %s %q", HdrSeq, h.Get(HdrSeq))
	}
	switch kind := h.Get(HdrKind); kind {
	case KindChunk:
		off, err := strconv.ParseUint(h.Get(HdrOffset), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("log message %d: bad %s %q", seq, HdrOffset, h.Get(HdrOffset))
		}
		c := &Chunk{Seq: seq, Offset: off, Stream: h.Get(HdrStream), Data: data}
		if ts := h.Get(HdrTime); ts != "" {
			if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
				return nil, nil, fmt.Errorf("log message %d: bad %s %q", seq, HdrTime, ts)
			}
		}
		return c, nil, nil
	case KindEnd:
		var end streams.LogEnd
		if err := json.Unmarshal(data, &end); err != nil {
			return nil, nil, fmt.Errorf("log message %d: decode end marker: %w", seq, err)
		}
		if _, err := streams.ParseReason(string(end.Reason)); err != nil {
			return nil, nil, fmt.Errorf("log end marker: %w", err)
		}
		if end.Chunks != seq-1 {
			return nil, nil, fmt.Errorf("log end marker: seq %d but %d chunks", seq, end.Chunks)
		}
		return nil, &end, nil
	default:
		return nil, nil, fmt.Errorf("log message %d: unknown %s %q", seq, HdrKind, kind)
	}
}
