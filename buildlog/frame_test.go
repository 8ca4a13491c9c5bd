package buildlog

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/streams"
)

func TestLogMsgRoundTrip(t *testing.T) {
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	subj := streams.LogSubject(k, 1)
	m := NewChunkMsg(subj, Chunk{Seq: 1, Offset: 0, Stream: StreamStderr, Data: []byte("<b>hi\x1b[31m")})
	c, end, err := ParseMsg(m.Header, m.Data)
	if err != nil || end != nil || c.Seq != 1 || c.Stream != StreamStderr || string(c.Data) != "<b>hi\x1b[31m" {
		t.Fatalf("ParseMsg(chunk) = %+v, %+v, %v", c, end, err)
	}
	em, err := NewEndMsg(subj, 2, streams.LogEnd{Status: streams.StatusTestPass, Chunks: 1, Bytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	c, end, err = ParseMsg(em.Header, em.Data)
	if err != nil || c != nil || end.Bytes != 10 {
		t.Fatalf("ParseMsg(end) = %+v, %+v, %v", c, end, err)
	}
	em.Header.Set(HdrSeq, "7")
	if _, _, err := ParseMsg(em.Header, em.Data); err == nil {
		t.Error("end marker whose seq disagrees with its chunk count was accepted")
	}
	em.Header.Set(HdrKind, "bogus")
	if _, _, err := ParseMsg(em.Header, em.Data); err == nil {
		t.Error("unknown kind accepted")
	}
}

// A chunk's time survives the headers, to the nanosecond.
func TestChunkTime(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	m := NewChunkMsg("ejecta.logs.x", Chunk{Seq: 1, Offset: 0, Stream: StreamStdout, Data: []byte("x"), Time: at})
	c, _, err := ParseMsg(m.Header, m.Data)
	if err != nil || !c.Time.Equal(at) {
		t.Errorf("chunk time %v (%v), want %v", c.Time, err, at)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	h.Set(HdrTime, "yesterday")
	if _, _, err := ParseMsg(h, m.Data); err == nil || !strings.Contains(err.Error(), HdrTime) {
		t.Errorf("bad %s accepted: %v", HdrTime, err)
	}
}

// An end marker's reason is one of streams' reasons, as a result's is.
func TestEndMarkerReason(t *testing.T) {
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	em, err := NewEndMsg(streams.LogSubject(k, 1), 1, streams.LogEnd{Status: streams.StatusBuildFail, Reason: "x("})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseMsg(em.Header, em.Data); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Errorf("log end marker with reason x(: %v, want refused", err)
	}
}

// A signed message verifies under its ticket only as it was signed: a
// change to its subject, to any framing header a reader takes from it, or
// to its payload, or another ticket, fails. Signing makes the MAC part of
// the Nats-Msg-Id, so a forgery published first with the same sequence
// cannot have the genuine message dropped as its duplicate.
func TestSignedMessagesVerifyOnlyAsSigned(t *testing.T) {
	subj := streams.LogSubject(streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}, 1)
	signed := func() *nats.Msg {
		m := NewChunkMsg(subj, Chunk{Seq: 3, Offset: 10, Stream: StreamStdout, Data: []byte("hello\n"), Time: time.Unix(5, 0)})
		Sign(m, "ticket-one")
		return m
	}
	if m := signed(); !Signed(subj, m.Header, m.Data, "ticket-one") {
		t.Fatal("a signed message does not verify")
	}
	if m := signed(); m.Header.Get(nats.MsgIdHdr) == NewChunkMsg(subj, Chunk{Seq: 3}).Header.Get(nats.MsgIdHdr) {
		t.Error("signing left the Nats-Msg-Id an unsigned message of the same sequence has")
	}
	for _, c := range []struct {
		name   string
		change func(m *nats.Msg) (subj, ticket string)
	}{
		{"another ticket", func(m *nats.Msg) (string, string) { return subj, "ticket-two" }},
		{"another subject", func(m *nats.Msg) (string, string) { return subj + "x", "ticket-one" }},
		{"payload", func(m *nats.Msg) (string, string) { m.Data = []byte("hellO\n"); return subj, "ticket-one" }},
		{"seq", func(m *nats.Msg) (string, string) { m.Header.Set(HdrSeq, "4"); return subj, "ticket-one" }},
		{"offset", func(m *nats.Msg) (string, string) { m.Header.Set(HdrOffset, "11"); return subj, "ticket-one" }},
		{"stream", func(m *nats.Msg) (string, string) { m.Header.Set(HdrStream, StreamSystem); return subj, "ticket-one" }},
		{"time", func(m *nats.Msg) (string, string) { m.Header.Del(HdrTime); return subj, "ticket-one" }},
		{"kind", func(m *nats.Msg) (string, string) { m.Header.Set(HdrKind, KindEnd); return subj, "ticket-one" }},
		{"no MAC", func(m *nats.Msg) (string, string) { m.Header.Del(HdrMAC); return subj, "ticket-one" }},
	} {
		m := signed()
		s, ticket := c.change(m)
		if Signed(s, m.Header, m.Data, ticket) {
			t.Errorf("%s changed: still verifies", c.name)
		}
	}
}
