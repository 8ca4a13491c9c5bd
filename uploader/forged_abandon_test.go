package uploader

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// A builder dies mid-log: its signed chunks wait on the stream without an
// end marker. A builder credential publishes one unsigned end marker on
// the log's subject. The sweep counts a log complete only by an end marker
// its builder signed, so the log is still judged abandoned and stored.
func TestForgedEndMarkerDoesNotKeepAnAbandonedLogFromBeingStored(t *testing.T) {
	e, key := newTicketedEnv(t)
	k := buildKey("tix", "dead-builder")
	data := randomBytes(50_000, 7)
	cs := chunks(data, 20_000)
	e.publishSignedChunks(k, 1, cs, nil, key.Ticket(k, 0))

	// The forgery: an end marker nobody signed.
	forged := streams.LogEnd{Status: streams.StatusBuildFail, Chunks: uint64(len(cs))}
	m, err := buildlog.NewEndMsg(streams.LogSubject(k, 1), forged.Chunks+1, forged)
	if err != nil {
		t.Fatal(err)
	}
	m.Header.Set(nats.MsgIdHdr, "forged-end")
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	e.run(cfg, e.st)
	time.Sleep(4 * time.Second)
	if _, ok := object(t, e.st, k, 1); !ok {
		t.Errorf("one unsigned end marker keeps an abandoned log from ever being stored (%d messages left on the stream)", e.logMsgs(k, 1))
	}
}

// The uploaders' request to store an abandoned log has a Nats-Msg-Id
// anyone can compute ("abandoned:" + its log subject), on a stream builders
// publish to (ejecta.uploads.>). A builder credential publishes anything
// on its own upload subject with that id first. With a job key the
// uploaders' id carries a MAC only they can compute, so their request is
// not dropped as a duplicate and the abandoned log is stored.
func TestAbandonedRequestIDCannotBePreempted(t *testing.T) {
	e, key := newTicketedEnv(t)
	k := buildKey("tix", "dead-builder")
	data := randomBytes(50_000, 7)
	cs := chunks(data, 20_000)
	e.publishSignedChunks(k, 1, cs, nil, key.Ticket(k, 0))

	other := buildKey("tix", "whatever")
	body, err := json.Marshal(streams.UploadRequest{V: 1, BuildKey: other, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(streams.UploadSubject(other, 1))
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, "abandoned:"+streams.LogSubject(k, 1))
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	e.run(cfg, e.st)
	time.Sleep(4 * time.Second)
	if _, ok := object(t, e.st, k, 1); !ok {
		t.Errorf("a builder's message pre-empted the Nats-Msg-Id of the uploaders' abandoned request; the abandoned log is not stored")
	}
}
