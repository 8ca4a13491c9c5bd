package streams

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// Job tickets tie every result and upload request to the builder that was
// handed its job. All builders share one NATS user, which may publish a
// result or an upload request for any build; what it cannot do is sign one
// for a build it never held.
//
//   - A secret JobKey is known to the roles that publish jobs or check what
//     comes back: the producer, the reporter (it publishes re-runs and
//     checks results), the uploader (it checks upload requests) and the
//     admin. Never to builders or viewers.
//   - Each job carries a Ticket: an HMAC, under the job key, of its build
//     and its attempt base. A builder learns it only by fetching the job.
//   - The builder signs its result and its upload request with the ticket
//     (a MAC over what the message says, never the ticket itself: results
//     are readable by viewers, and a ticket there could be replayed).
//   - The reporter and the uploader compute the ticket again from the key
//     and the attempt's base (AttemptBaseOf) and refuse a message whose MAC
//     is missing or wrong, for every experiment recorded with Tickets.
//
// A builder can therefore still lie about a job it was handed (any attempt
// number of that run, any status), but it cannot change the verdict of a
// build it was never handed, nor of another run of a build it held: each
// run (first run, re-run, retry) has a ticket of its own.

// RoleHoldsJobKey reports whether role is given the job key: the roles that
// publish jobs or check what comes back. Never builders nor viewers.
func RoleHoldsJobKey(role Role) bool {
	switch role {
	case RoleProducer, RoleReporter, RoleUploader, RoleAdmin:
		return true
	}
	return false
}

// JobKeySize is the size of a job key in bytes.
const JobKeySize = 32

// ticketBytes and macBytes are how much of each HMAC-SHA256 is kept: 128
// bits, as HMAC-SHA256-128 (RFC 4868) keeps.
const (
	ticketBytes = 16
	macBytes    = 16
)

// signedLen is the length of a ticket or MAC as carried: base64url, no
// padding.
var signedLen = base64.RawURLEncoding.EncodedLen(ticketBytes)

// Domains separate what each HMAC is computed over, so that no encoding
// of one kind of message can be taken for another.
const (
	ticketDomain = "ejecta/job-ticket/v1"
	resultDomain = "ejecta/result-mac/v1"
	uploadDomain = "ejecta/upload-mac/v1"
	logDomain    = "ejecta/log-mac/v1"
	msgIDDomain  = "ejecta/msg-id/v1"
)

// JobKey is the secret job tickets are derived from. The zero JobKey is no
// key: jobs then carry no ticket and nothing is checked. It never prints
// its bytes (String); Encode is for writing it to a credentials file.
type JobKey struct {
	secret *[JobKeySize]byte
}

// NewJobKey returns a fresh random key.
func NewJobKey() (JobKey, error) {
	var b [JobKeySize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return JobKey{}, fmt.Errorf("random job key: %w", err)
	}
	return JobKey{secret: &b}, nil
}

// ParseJobKey reads a key written by Encode: JobKeySize bytes in standard
// base64. The error never quotes the input.
func ParseJobKey(s string) (JobKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return JobKey{}, errors.New("job key: not base64")
	}
	if len(b) != JobKeySize {
		return JobKey{}, fmt.Errorf("job key: %d bytes, want %d", len(b), JobKeySize)
	}
	var k [JobKeySize]byte
	copy(k[:], b)
	return JobKey{secret: &k}, nil
}

// Encode is the key in standard base64, as EJECTA_JOB_KEY holds it.
func (k JobKey) Encode() string {
	if k.secret == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(k.secret[:])
}

// IsZero reports whether k is no key.
func (k JobKey) IsZero() bool { return k.secret == nil }

// String says whether a key is set, never what it is.
func (k JobKey) String() string {
	if k.IsZero() {
		return "no job key"
	}
	return "job key (hidden)"
}

// Ticket is the ticket of the jobs of build b whose attempts are numbered
// from attemptBase (Job.AttemptBase); "" without a key.
func (k JobKey) Ticket(b BuildKey, attemptBase int) string {
	if k.IsZero() {
		return ""
	}
	var in macInput
	in.str(ticketDomain)
	in.build(b)
	in.num(int64(attemptBase))
	return sign(k.secret[:], in, ticketBytes)
}

// SignJob sets j's Ticket; without a key it leaves j without one.
func (k JobKey) SignJob(j *Job) { j.Ticket = k.Ticket(j.BuildKey, j.AttemptBase) }

// ErrNoMAC and ErrBadMAC are why a result or an upload request of an
// experiment whose jobs carry tickets is refused.
var (
	ErrNoMAC  = errors.New("no MAC: the experiment's jobs carry tickets, and only the builder handed the job can sign for it")
	ErrBadMAC = errors.New("MAC does not match the job's ticket: not signed by the builder handed the job")
)

// errNoKey is what checking a MAC without a key says.
var errNoKey = errors.New("no job key to check a MAC with")

// Sign sets r's MAC with the ticket of the job r is the result of; an empty
// ticket (a job without one) leaves r unsigned.
func (r *Result) Sign(ticket string) { r.MAC = resultMAC(ticket, r) }

// Sign sets u's MAC with the ticket of the job whose log u asks to store;
// an empty ticket leaves u unsigned.
func (u *UploadRequest) Sign(ticket string) { u.MAC = uploadMAC(ticket, u) }

// VerifyResult checks r's MAC against the ticket of the run r's attempt
// belongs to.
func (k JobKey) VerifyResult(r *Result) error {
	if k.IsZero() {
		return errNoKey
	}
	base, err := AttemptBaseOf(r.Attempt)
	if err != nil {
		return fmt.Errorf("result for %s: %w", r.BuildKey, err)
	}
	if r.MAC == "" {
		return fmt.Errorf("result for %s attempt %d: %w", r.BuildKey, r.Attempt, ErrNoMAC)
	}
	if !equalMAC(r.MAC, resultMAC(k.Ticket(r.BuildKey, base), r)) {
		return fmt.Errorf("result for %s attempt %d: %w", r.BuildKey, r.Attempt, ErrBadMAC)
	}
	return nil
}

// VerifyUpload checks u's MAC against the ticket of the run u's attempt
// belongs to.
func (k JobKey) VerifyUpload(u *UploadRequest) error {
	if k.IsZero() {
		return errNoKey
	}
	base, err := AttemptBaseOf(u.Attempt)
	if err != nil {
		return fmt.Errorf("upload request for %s: %w", u.BuildKey, err)
	}
	if u.MAC == "" {
		return fmt.Errorf("upload request for %s attempt %d: %w", u.BuildKey, u.Attempt, ErrNoMAC)
	}
	if !equalMAC(u.MAC, uploadMAC(k.Ticket(u.BuildKey, base), u)) {
		return fmt.Errorf("upload request for %s attempt %d: %w", u.BuildKey, u.Attempt, ErrBadMAC)
	}
	return nil
}

// AttemptBaseOf is the Job.AttemptBase of the run attempt belongs to: the
// first run, a re-run or a retry (retry.go). An attempt beyond the last
// run there can be belongs to none.
func AttemptBaseOf(attempt int) (int, error) {
	if attempt < 1 {
		return 0, fmt.Errorf("attempt %d: want 1 or more", attempt)
	}
	base := (attempt - 1) / RerunStride * RerunStride
	if err := validateAttemptBase(base); err != nil {
		return 0, fmt.Errorf("attempt %d is in no run's range: %w", attempt, err)
	}
	return base, nil
}

// resultMAC covers what a result says about its attempt: the build, the
// attempt, the outcome, who built it and, when it did, that it built in a
// shared target (added only then, so the MACs of results from before the
// field stay as they were).
func resultMAC(ticket string, r *Result) string {
	if ticket == "" {
		return ""
	}
	var in macInput
	in.str(resultDomain)
	in.build(r.BuildKey)
	in.num(int64(r.Attempt))
	in.str(string(r.Status))
	in.str(string(r.Reason))
	in.num(int64(r.ExitCode))
	in.str(r.Builder)
	if r.SharedTarget {
		in.str("shared-target")
	}
	if e := r.FirstError; e != nil {
		in.str("first-error")
		in.str(e.Code)
		in.str(e.Message)
		in.str(e.File)
		in.num(int64(e.Line))
		in.num(int64(e.LogLine))
	}
	return sign([]byte(ticket), in, macBytes)
}

// uploadMAC covers the build, the attempt and the end of its log, which
// the uploader checks the stored bytes against.
func uploadMAC(ticket string, u *UploadRequest) string {
	if ticket == "" {
		return ""
	}
	var in macInput
	in.str(uploadDomain)
	in.build(u.BuildKey)
	in.num(int64(u.Attempt))
	in.str(string(u.End.Status))
	in.num(int64(u.End.ExitCode))
	in.num(int64(u.End.Chunks))
	in.num(int64(u.End.Bytes))
	in.str(u.End.SHA256)
	return sign([]byte(ticket), in, macBytes)
}

// LogMAC is the MAC of one message of a build's log, under the ticket of
// the job whose attempt wrote it: over its subject, its framing headers as
// they travel (kind, sequence, offset, output stream, time) and its
// payload. Any builder may publish on any log subject; only the builder
// handed the job (and an uploader, from the job key) can compute this, so
// a reader holding the ticket skips everything else published there.
func LogMAC(ticket, subject string, framing []string, data []byte) string {
	if ticket == "" {
		return ""
	}
	var in macInput
	in.str(logDomain)
	in.str(subject)
	in.num(int64(len(framing)))
	for _, f := range framing {
		in.str(f)
	}
	in.num(int64(len(data)))
	h := hmac.New(sha256.New, []byte(ticket))
	h.Write(in.b)
	h.Write(data)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:macBytes])
}

// SignMsgID makes m's Nats-Msg-Id one only a holder of the key can
// compute, for what the key's holders publish on streams builders publish
// to as well (dead letters, requests to store abandoned logs): a hostile
// builder could otherwise publish under the id of a message still to come
// and have it dropped as a duplicate. The same message signed again keeps
// its id, so a retry is still one. Without a key m is left as it is.
func (k JobKey) SignMsgID(m *nats.Msg) {
	id := m.Header.Get(nats.MsgIdHdr)
	if k.IsZero() || id == "" {
		return
	}
	var in macInput
	in.str(msgIDDomain)
	in.str(id)
	m.Header.Set(nats.MsgIdHdr, id+"#"+sign(k.secret[:], in, macBytes))
}

// EqualMAC compares two MACs in constant time.
func EqualMAC(got, want string) bool { return equalMAC(got, want) }

// macInput is the canonical encoding an HMAC is computed over: each string
// preceded by its length, each number in 8 bytes, so that no two different
// field lists encode alike.
type macInput struct{ b []byte }

func (m *macInput) str(s string) {
	m.b = binary.BigEndian.AppendUint32(m.b, uint32(len(s)))
	m.b = append(m.b, s...)
}

func (m *macInput) num(n int64) { m.b = binary.BigEndian.AppendUint64(m.b, uint64(n)) }

func (m *macInput) build(k BuildKey) {
	m.str(k.Experiment)
	m.str(k.Crate)
	m.str(k.Version)
	m.str(k.Toolchain)
}

func sign(key []byte, in macInput, n int) string {
	h := hmac.New(sha256.New, key)
	h.Write(in.b)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:n])
}

func equalMAC(got, want string) bool { return hmac.Equal([]byte(got), []byte(want)) }

// validateSigned checks the form of a ticket or MAC field: empty, or
// base64url of the kept bytes.
func validateSigned(field, s string) error {
	if s == "" {
		return nil
	}
	if len(s) != signedLen {
		return fmt.Errorf("%s: %d characters, want %d", field, len(s), signedLen)
	}
	if _, err := base64.RawURLEncoding.DecodeString(s); err != nil {
		return fmt.Errorf("%s: not base64url", field)
	}
	return nil
}

// SignedMsgID is the Nats-Msg-Id of a message published on subj and
// signed with mac. The MAC is part of it so that a message published
// ahead on the same subject by someone else (a forgery, which the reader
// refuses) cannot make the stream drop the genuine one as a duplicate.
func SignedMsgID(subj, mac string) string {
	if mac == "" {
		return subj
	}
	return subj + "#" + mac
}

// redactTicket returns a job's data with its ticket hidden, for a copy
// kept where viewers read (the dead stream). Anything that is not a JSON
// object with a ticket is returned as it is.
func redactTicket(data []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return data
	}
	if _, ok := fields["ticket"]; !ok {
		return data
	}
	fields["ticket"] = json.RawMessage(`"(redacted)"`)
	out, err := json.Marshal(fields)
	if err != nil {
		return data
	}
	return out
}
