package streams

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestNewDeadMsg(t *testing.T) {
	for _, tc := range []struct {
		name, data, sender, wantSubject, wantID string
	}{
		{"experiment named", `{"experiment":"exp1","crate":5}`, "builder-a", "ejecta.dead.exp1.builder-a", "dead:builder-a:EJECTA_JOBS#7"},
		{"garbage", "\x00\xff not json", "reporter", "ejecta.dead._invalid.reporter", "dead:reporter:EJECTA_JOBS#7"},
		{"hostile experiment", `{"experiment":"a.>"}`, "uploader", "ejecta.dead._invalid.uploader", "dead:uploader:EJECTA_JOBS#7"},
		// A sender that is no subject token cannot widen the subject.
		{"hostile sender", `{"experiment":"exp1"}`, "x.>", "ejecta.dead.exp1.anonymous", "dead:anonymous:EJECTA_JOBS#7"},
		{"no sender", `{"experiment":"exp1"}`, "", "ejecta.dead.exp1.anonymous", "dead:anonymous:EJECTA_JOBS#7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewDeadMsg("ejecta.jobs.x", []byte(tc.data), JobsStream, 7, errors.New("bad\r\nInjected: header"), tc.sender)
			if m.Subject != tc.wantSubject {
				t.Errorf("subject %q, want %q", m.Subject, tc.wantSubject)
			}
			if string(m.Data) != tc.data {
				t.Errorf("data changed: %q", m.Data)
			}
			if r := m.Header.Get(HdrDeadReason); r != "bad  Injected: header" || m.Header.Get("Injected") != "" {
				t.Errorf("reason header %q: control bytes must not survive", r)
			}
			if m.Header.Get(HdrDeadSubject) != "ejecta.jobs.x" || m.Header.Get(HdrDeadSeq) != "7" || m.Header.Get("Nats-Msg-Id") != tc.wantID {
				t.Errorf("headers %v, want Msg-Id %s", m.Header, tc.wantID)
			}
		})
	}
	// Each sender's letter of the same message is its own: one publisher
	// cannot take another's id first.
	if a, b := NewDeadMsg("s", nil, JobsStream, 1, errors.New("x"), "builder-a"), NewDeadMsg("s", nil, JobsStream, 1, errors.New("x"), "builder-b"); a.Header.Get("Nats-Msg-Id") == b.Header.Get("Nats-Msg-Id") {
		t.Errorf("two senders' dead letters share the id %s", a.Header.Get("Nats-Msg-Id"))
	}
	long := NewDeadMsg("s", nil, JobsStream, 0, errors.New(strings.Repeat("é", 2000)), "reporter")
	if r := long.Header.Get(HdrDeadReason); len(r) > maxReasonBytes+3 || !strings.HasSuffix(r, "...") {
		t.Errorf("long reason not cut: %d bytes", len(r))
	}
	if long.Header.Get("Nats-Msg-Id") != "" {
		t.Error("a message without a sequence got a Msg-Id")
	}
	big := []byte(`{"experiment":"exp1","x":"` + strings.Repeat("A", 1<<20) + `"}`)
	m := NewDeadMsg("s", big, JobsStream, 1, errors.New("too big"), "reporter")
	if string(m.Data) != string(big[:MaxDeadDataBytes]) || m.Header.Get(HdrDeadBytes) != strconv.Itoa(len(big)) || m.Subject != "ejecta.dead.exp1.reporter" {
		t.Errorf("1 MiB refused message: dead letter of %d bytes, %s=%q on %s; want its first %d bytes and its size",
			len(m.Data), HdrDeadBytes, m.Header.Get(HdrDeadBytes), m.Subject, MaxDeadDataBytes)
	}
	if small := NewDeadMsg("s", []byte("x"), JobsStream, 1, errors.New("bad"), "reporter"); small.Header.Get(HdrDeadBytes) != "" {
		t.Errorf("a small message's dead letter says it was cut")
	}
}
