package streams

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Besides LogObjectKey (the plain log, which results link to), the uploader
// stores three objects per attempt, all relative to ExperimentPrefix and
// beside it: the raw bytes zstd-compressed, a rendered HTML page, and a
// metadata JSON (LogMeta). The metadata is written last, so its presence
// means every object of the attempt is complete.

// LogRawKey is the key of the zstd-compressed raw log of one attempt.
func LogRawKey(k BuildKey, attempt int) string { return LogObjectKey(k, attempt) + ".zst" }

// LogPageKey is the key of the rendered HTML page of one attempt's log.
func LogPageKey(k BuildKey, attempt int) string { return logObjectBase(k, attempt) + ".html" }

// LogTimesKey is the key of the times index of one attempt's log: when its
// chunks were written (LogTime), so that a stored log keeps each line's
// time.
func LogTimesKey(k BuildKey, attempt int) string { return logObjectBase(k, attempt) + ".times" }

// LogTime is one entry of a times index: the log's bytes from Offset on,
// up to the next entry's, were written at At. A times index is text, one
// entry per line, "<offset> <unix milliseconds>\n", offsets increasing;
// an entry is kept only where the time changes.
type LogTime struct {
	Offset uint64
	At     time.Time
}

// AppendLogTime appends t's line of a times index to b.
func AppendLogTime(b []byte, t LogTime) []byte {
	b = strconv.AppendUint(b, t.Offset, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t.At.UnixMilli(), 10)
	return append(b, '\n')
}

// MaxLogTimes bounds the entries ReadLogTimes takes: one per chunk of the
// largest log a builder keeps is far fewer.
const MaxLogTimes = 1 << 20

// ReadLogTimes reads a times index, refusing one that is malformed, out of
// order or longer than MaxLogTimes entries: it was written by an uploader,
// but a store is not to be trusted blindly.
func ReadLogTimes(r io.Reader) ([]LogTime, error) {
	var out []LogTime
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if len(out) == MaxLogTimes {
			return nil, fmt.Errorf("times index: more than %d entries", MaxLogTimes)
		}
		off, ms, ok := strings.Cut(sc.Text(), " ")
		o, err1 := strconv.ParseUint(off, 10, 64)
		m, err2 := strconv.ParseInt(ms, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("times index: line %d: want \"<offset> <unix ms>\"", n)
		}
		if len(out) > 0 && o <= out[len(out)-1].Offset {
			return nil, fmt.Errorf("times index: line %d: offset %d not after %d", n, o, out[len(out)-1].Offset)
		}
		out = append(out, LogTime{Offset: o, At: time.UnixMilli(m).UTC()})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("times index: %w", err)
	}
	return out, nil
}

// LogMetaKey is the key of the metadata JSON (LogMeta) of one attempt's log.
func LogMetaKey(k BuildKey, attempt int) string { return logObjectBase(k, attempt) + ".json" }

func logObjectBase(k BuildKey, attempt int) string {
	return strings.TrimSuffix(LogObjectKey(k, attempt), ".log")
}

// ArchiveKey is the key, relative to the experiment's prefix, of the tar.zst
// archive holding every log of one comparison class.
func ArchiveKey(class string) string { return "logs-archives/" + EscapeToken(class) + ".tar.zst" }

// HdrAbandoned on an upload request on AbandonedUploadSubject marks the log
// of an attempt that never got its end marker (the builder died); its value
// says why it was judged abandoned. The uploader stores what the stream
// holds and marks it so. On any other subject the header means nothing:
// builders may publish there, and a builder must not have another's live
// log stored as abandoned and purged.
const HdrAbandoned = "Ejecta-Abandoned"

// NewAbandonedUploadMsg asks for the log of an abandoned attempt to be
// stored. Its Nats-Msg-Id makes several uploader replicas noticing the same
// attempt at once publish one request.
func NewAbandonedUploadMsg(k BuildKey, attempt int, reason string) (*nats.Msg, error) {
	data, err := json.Marshal(UploadRequest{V: SchemaVersion, BuildKey: k, Attempt: attempt})
	if err != nil {
		return nil, fmt.Errorf("encode upload request: %w", err)
	}
	m := nats.NewMsg(AbandonedUploadSubject(k, attempt))
	m.Header.Set(HdrAbandoned, strings.NewReplacer("\r", " ", "\n", " ").Replace(reason))
	m.Header.Set(nats.MsgIdHdr, "abandoned:"+LogSubject(k, attempt))
	m.Data = data
	return m, nil
}

// LogsFilter matches every log subject of every experiment.
const LogsFilter = logsPrefix + ".>"

// LogMetaVersion is the "v" of LogMeta.
const LogMetaVersion = 1

// LogMeta describes one stored log (LogMetaKey).
type LogMeta struct {
	V int `json:"v"`
	BuildKey
	Attempt int `json:"attempt"`
	// Status and ExitCode are the end marker's; an abandoned log has none.
	Status   Status `json:"status,omitempty"`
	ExitCode int    `json:"exit_code"`
	// Bytes, Lines and SHA256 describe the stored log: the bytes the task
	// wrote, plus a marker line where chunks were missing (see Gaps).
	Bytes  uint64 `json:"bytes"`
	Lines  uint64 `json:"lines"`
	SHA256 string `json:"sha256"`
	// FirstAt and LastAt are when the first and last message of the log
	// reached the stream.
	FirstAt time.Time `json:"first_at,omitzero"`
	LastAt  time.Time `json:"last_at,omitzero"`
	// Abandoned is set when the attempt never finished its log.
	Abandoned       bool   `json:"abandoned"`
	AbandonedReason string `json:"abandoned_reason,omitempty"`
	// Gaps are the places where chunks were gone from the stream. Each is
	// marked in the stored bytes by a line starting with GapMarkerPrefix.
	Gaps []LogGap `json:"gaps,omitempty"`
	// Raw, Page and Plain are the keys (relative to the experiment's prefix)
	// of the compressed raw log, the HTML page and the plain log ("" if not
	// kept).
	Raw   string `json:"raw"`
	Page  string `json:"page"`
	Plain string `json:"plain,omitempty"`
	// Times is the key of the log's times index (LogTimesKey), "" when no
	// chunk had a time.
	Times string `json:"times,omitempty"`
	// PageTruncated says the page shows only the head and tail of the log.
	PageTruncated bool      `json:"page_truncated"`
	StoredAt      time.Time `json:"stored_at"`
}

// LogGap is a run of chunks missing from a stored log.
type LogGap struct {
	// Offset is where in the task's output the missing bytes started.
	Offset uint64 `json:"offset"`
	// Bytes is how many bytes are missing, when the next chunk tells.
	Bytes uint64 `json:"bytes"`
	// FirstSeq and LastSeq are the missing chunks' sequence numbers.
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

// GapMarkerPrefix starts the line a stored log holds where chunks are gone.
const GapMarkerPrefix = "[ejecta: log incomplete: "
