package streams

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func mustKey(t *testing.T) JobKey {
	t.Helper()
	k, err := NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var ticketBuild = BuildKey{Experiment: "e", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly"}

func TestJobKeyEncodeParse(t *testing.T) {
	k := mustKey(t)
	back, err := ParseJobKey(k.Encode() + "\n")
	if err != nil || back.Encode() != k.Encode() {
		t.Fatalf("ParseJobKey(Encode()) = %v, %v", back, err)
	}
	if s := k.String(); strings.Contains(s, k.Encode()) {
		t.Errorf("String() shows the key: %q", s)
	}
	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		_, err := ParseJobKey(bad)
		if err == nil || !strings.Contains(err.Error(), "job key") {
			t.Errorf("ParseJobKey(%q) = %v, want an error naming the job key", bad, err)
		}
		if bad != "" && err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseJobKey's error quotes its input: %v", err)
		}
	}
	if !(JobKey{}).IsZero() || (JobKey{}).Ticket(ticketBuild, 0) != "" {
		t.Error("the zero key issues tickets")
	}
}

// A ticket depends on the key, the build and the run; a MAC on the
// ticket and on every field it covers.
func TestTicketsAndMACs(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	tk := k.Ticket(ticketBuild, 0)
	if err := validateSigned("ticket", tk); err != nil || tk == "" {
		t.Fatalf("ticket %q: %v", tk, err)
	}
	if tk != k.Ticket(ticketBuild, 0) {
		t.Error("the same job got two tickets")
	}
	for name, t2 := range map[string]string{
		"another key":   other.Ticket(ticketBuild, 0),
		"another run":   k.Ticket(ticketBuild, RerunAttemptBase(1)),
		"another crate": k.Ticket(BuildKey{Experiment: "e", Crate: "cfg-iF", Version: "1.0.0", Toolchain: "nightly"}, 0),
		// Length prefixes: moving a byte from one field to the next is
		// another build.
		"fields shifted": k.Ticket(BuildKey{Experiment: "e", Crate: "cfg-if1", Version: ".0.0", Toolchain: "nightly"}, 0),
	} {
		if t2 == tk {
			t.Errorf("%s: same ticket", name)
		}
	}

	res := Result{V: 1, BuildKey: ticketBuild, Attempt: 2, Status: StatusBuildFail, Reason: "oom", ExitCode: 137, Builder: "b1"}
	res.Sign(tk)
	if err := k.VerifyResult(&res); err != nil {
		t.Fatalf("genuine result refused: %v", err)
	}
	if err := res.Validate(); err != nil {
		t.Fatalf("signed result does not validate: %v", err)
	}
	for name, mut := range map[string]func(*Result){
		"status":    func(r *Result) { r.Status = StatusTestPass },
		"reason":    func(r *Result) { r.Reason = "" },
		"exit code": func(r *Result) { r.ExitCode = 0 },
		"builder":   func(r *Result) { r.Builder = "b2" },
		"attempt":   func(r *Result) { r.Attempt = 3 },
		"crate":     func(r *Result) { r.Crate = "itoa" },
		// Whether the attempt reused a shared target is part of what the
		// result says: a copy cannot flip it.
		"shared target": func(r *Result) { r.SharedTarget = true },
		// So is the first error a report shows for the crate.
		"first error": func(r *Result) { r.FirstError = &FirstError{Message: "mismatched types"} },
		// Attempt 1001 is the first re-run's: another ticket.
		"another run": func(r *Result) { r.Attempt = 1001 },
	} {
		forged := res
		mut(&forged)
		if err := k.VerifyResult(&forged); !errors.Is(err, ErrBadMAC) {
			t.Errorf("result with %s changed: %v, want ErrBadMAC", name, err)
		}
	}
	// Signed with the ticket of another build (one its builder held).
	forged := res
	forged.Sign(k.Ticket(BuildKey{Experiment: "e", Crate: "itoa", Version: "1.0.0", Toolchain: "nightly"}, 0))
	if err := k.VerifyResult(&forged); !errors.Is(err, ErrBadMAC) {
		t.Errorf("result signed with another build's ticket: %v, want ErrBadMAC", err)
	}
	unsigned := res
	unsigned.MAC = ""
	if err := k.VerifyResult(&unsigned); !errors.Is(err, ErrNoMAC) {
		t.Errorf("unsigned result: %v, want ErrNoMAC", err)
	}
	if err := (JobKey{}).VerifyResult(&res); err == nil {
		t.Error("a result checked without a key passed")
	}

	up := UploadRequest{V: 1, BuildKey: ticketBuild, Attempt: 2,
		End: LogEnd{Status: StatusBuildFail, ExitCode: 137, Chunks: 3, Bytes: 70000, SHA256: strings.Repeat("ab", 32)}}
	up.Sign(tk)
	if err := k.VerifyUpload(&up); err != nil {
		t.Fatalf("genuine upload request refused: %v", err)
	}
	for name, mut := range map[string]func(*UploadRequest){
		"bytes":   func(u *UploadRequest) { u.End.Bytes++ },
		"chunks":  func(u *UploadRequest) { u.End.Chunks++ },
		"sha256":  func(u *UploadRequest) { u.End.SHA256 = strings.Repeat("cd", 32) },
		"status":  func(u *UploadRequest) { u.End.Status = StatusTestPass },
		"attempt": func(u *UploadRequest) { u.Attempt = 1 },
	} {
		forged := up
		mut(&forged)
		if err := k.VerifyUpload(&forged); !errors.Is(err, ErrBadMAC) {
			t.Errorf("upload request with %s changed: %v, want ErrBadMAC", name, err)
		}
	}
	// A result's MAC is no upload request's: the domains differ.
	cross := up
	cross.MAC = res.MAC
	if err := k.VerifyUpload(&cross); !errors.Is(err, ErrBadMAC) {
		t.Errorf("upload request carrying a result's MAC: %v, want ErrBadMAC", err)
	}
}

func TestAttemptBaseOf(t *testing.T) {
	for _, tc := range []struct{ attempt, base int }{
		{1, 0}, {4, 0}, {1000, 0}, {1001, 1000}, {10001, 10000}, {11002, 11000},
		{AttemptBase(MaxRetry, MaxRerunRound) + 1, AttemptBase(MaxRetry, MaxRerunRound)},
	} {
		if base, err := AttemptBaseOf(tc.attempt); err != nil || base != tc.base {
			t.Errorf("AttemptBaseOf(%d) = %d, %v; want %d", tc.attempt, base, err, tc.base)
		}
	}
	for _, attempt := range []int{0, -1, AttemptBase(MaxRetry+1, 0) + 1} {
		if _, err := AttemptBaseOf(attempt); err == nil {
			t.Errorf("AttemptBaseOf(%d) accepted", attempt)
		}
	}
	k := mustKey(t)
	far := Result{V: 1, BuildKey: ticketBuild, Attempt: AttemptBase(MaxRetry+1, 0) + 1, Status: StatusTestPass}
	if err := k.VerifyResult(&far); err == nil || !strings.Contains(err.Error(), "no run's range") {
		t.Errorf("result of an attempt beyond every run: %v", err)
	}
}

func TestSignedFieldsValidate(t *testing.T) {
	job := Job{V: 1, BuildKey: ticketBuild, Mode: ModeCheckOnly, CrateSource: "/r"}
	mustKey(t).SignJob(&job)
	if err := job.Validate(); err != nil {
		t.Fatalf("signed job: %v", err)
	}
	for _, bad := range []string{"short", strings.Repeat("!", signedLen)} {
		j := job
		j.Ticket = bad
		if err := j.Validate(); err == nil || !strings.Contains(err.Error(), "ticket") {
			t.Errorf("ticket %q: %v, want an error naming the ticket", bad, err)
		}
		r := Result{V: 1, BuildKey: ticketBuild, Attempt: 1, Status: StatusTestPass, Builder: "b", MAC: bad}
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "mac") {
			t.Errorf("result mac %q: %v, want an error naming the mac", bad, err)
		}
		u := UploadRequest{V: 1, BuildKey: ticketBuild, Attempt: 1, MAC: bad}
		if err := u.Validate(); err == nil || !strings.Contains(err.Error(), "mac") {
			t.Errorf("upload request mac %q: %v, want an error naming the mac", bad, err)
		}
	}
}

// A job's dead letter keeps everything but its ticket.
func TestDeadJobHidesTicket(t *testing.T) {
	job := Job{V: 1, BuildKey: ticketBuild, Mode: ModeCheckOnly, CrateSource: "/r"}
	mustKey(t).SignJob(&job)
	data, _ := json.Marshal(job)
	m := NewDeadMsg(JobSubject(job.BuildKey), data, JobsStream, 7, errors.New("poison"), "builder-a")
	if strings.Contains(string(m.Data), job.Ticket) {
		t.Fatalf("dead letter holds the ticket: %s", m.Data)
	}
	var back map[string]any
	if err := json.Unmarshal(m.Data, &back); err != nil || back["crate"] != "cfg-if" || back["ticket"] != "(redacted)" {
		t.Errorf("dead letter %s (%v)", m.Data, err)
	}
	if m.Subject != "ejecta.dead.e.builder-a" {
		t.Errorf("dead letter on %s, want ejecta.dead.e.builder-a", m.Subject)
	}
	// Anything else is kept as it came.
	for _, raw := range []string{"\x00 not json", `{"v":1,"experiment":"e"}`} {
		if m := NewDeadMsg("ejecta.jobs.x", []byte(raw), JobsStream, 0, errors.New("poison"), "builder-a"); string(m.Data) != raw {
			t.Errorf("dead letter of %q is %q", raw, m.Data)
		}
	}
}

func TestParseUploadSubject(t *testing.T) {
	for _, tc := range []struct {
		subj      string
		abandoned bool
	}{
		{UploadSubject(ticketBuild, 3), false},
		{AbandonedUploadSubject(ticketBuild, 3), true},
	} {
		k, a, ab, err := ParseUploadSubject(tc.subj)
		if err != nil || k != ticketBuild || a != 3 || ab != tc.abandoned {
			t.Errorf("ParseUploadSubject(%s) = %v, %d, %v, %v", tc.subj, k, a, ab, err)
		}
	}
	if _, _, _, err := ParseUploadSubject(ResultSubject(ticketBuild, 3, AnonymousSender)); err == nil {
		t.Error("a result subject parsed as an upload request's")
	}
}

// A dead letter published by a holder of the job key has a Nats-Msg-Id
// nobody without the key can take first; the same letter signed twice
// keeps one id, so a retry is still a duplicate.
func TestSignMsgIDMakesTheIDUnpredictable(t *testing.T) {
	key, err := NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := NewDeadMsg("ejecta.results.x", []byte(`{}`), ResultsStream, 7, errors.New("no"), "reporter")
	a, b := NewDeadMsg("ejecta.results.x", []byte(`{}`), ResultsStream, 7, errors.New("no"), "reporter"), NewDeadMsg("ejecta.results.x", []byte(`{}`), ResultsStream, 7, errors.New("no"), "reporter")
	key.SignMsgID(a)
	key.SignMsgID(b)
	if id := a.Header.Get(nats.MsgIdHdr); id == plain.Header.Get(nats.MsgIdHdr) || id != b.Header.Get(nats.MsgIdHdr) {
		t.Errorf("signed id %q, unsigned %q, again %q: want a new id, the same each time", id, plain.Header.Get(nats.MsgIdHdr), b.Header.Get(nats.MsgIdHdr))
	}
	other, err := NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	c := NewDeadMsg("ejecta.results.x", []byte(`{}`), ResultsStream, 7, errors.New("no"), "reporter")
	other.SignMsgID(c)
	if c.Header.Get(nats.MsgIdHdr) == a.Header.Get(nats.MsgIdHdr) {
		t.Error("two keys give the same id")
	}
	var none JobKey
	d := NewDeadMsg("ejecta.results.x", []byte(`{}`), ResultsStream, 7, errors.New("no"), "reporter")
	none.SignMsgID(d)
	if d.Header.Get(nats.MsgIdHdr) != plain.Header.Get(nats.MsgIdHdr) {
		t.Error("no key changed the id")
	}
}
