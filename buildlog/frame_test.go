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
