package uploader

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// newTicketedEnv is newEnv with a job key and the record of experiment
// "tix", whose jobs carry tickets.
func newTicketedEnv(t *testing.T) (*env, streams.JobKey) {
	t.Helper()
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	e.putRecord("tix", true)
	return e, key
}

// publishSignedChunks publishes cs on the attempt's log subject signed
// with ticket, as the builder handed the job does; end, when not nil,
// follows them.
func (e *env) publishSignedChunks(k streams.BuildKey, attempt int, cs []buildlog.Chunk, end *streams.LogEnd, ticket string) {
	e.t.Helper()
	subj := streams.LogSubject(k, attempt)
	for _, c := range cs {
		m := buildlog.NewChunkMsg(subj, c)
		buildlog.Sign(m, ticket)
		if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
			e.t.Fatal(err)
		}
	}
	if end == nil {
		return
	}
	m, err := buildlog.NewEndMsg(subj, end.Chunks+1, *end)
	if err != nil {
		e.t.Fatal(err)
	}
	buildlog.Sign(m, ticket)
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

// Any builder may publish on any log subject. For an experiment whose jobs
// carry tickets the uploader reads only what the builder handed the job
// signed: a forged log published ahead of the genuine one, with the same
// sequence numbers and an end marker of its own, neither displaces the
// genuine chunks as duplicates nor gets a byte into the stored log; nor do
// forged chunks between genuine ones.
func TestForgedLogMessagesAreSkipped(t *testing.T) {
	e, key := newTicketedEnv(t)
	data := randomBytes(50_000, 7)
	cs := chunks(data, 20_000)
	end := endFor(data, len(cs))
	forged := randomBytes(50_000, 9)
	fcs := chunks(forged, 20_000)
	fend := endFor(forged, len(fcs))

	ahead := buildKey("tix", "ahead")
	e.publishMarked(ahead, 1, fcs, fend)
	e.publishSignedChunks(ahead, 1, cs, &end, key.Ticket(ahead, 0))
	e.publishSigned(ahead, 1, end, key.Ticket(ahead, 0))

	between := buildKey("tix", "between")
	e.publishSignedChunks(between, 1, cs[:1], nil, key.Ticket(between, 0))
	e.publishChunks(between, 1, fcs[1:2])
	// Signed, but with another build's ticket.
	e.publishSignedChunks(between, 1, fcs[1:2], nil, key.Ticket(ahead, 0))
	e.publishSignedChunks(between, 1, cs[1:], &end, key.Ticket(between, 0))
	e.publishSigned(between, 1, end, key.Ticket(between, 0))

	cfg := fastConfig("u")
	cfg.JobKey = key
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "requests settled", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })
	for _, k := range []streams.BuildKey{ahead, between} {
		s := storedLog(t, e.st, k, 1)
		if !bytes.Equal(s.raw, data) || s.meta.Status != end.Status || len(s.meta.Gaps) != 0 {
			t.Errorf("%s: stored %d bytes (genuine: %v), status %s, gaps %v; want the genuine log whole",
				k, len(s.raw), bytes.Equal(s.raw, data), s.meta.Status, s.meta.Gaps)
		}
		if n := e.logMsgs(k, 1); n != 0 {
			t.Errorf("%s: %d messages left on the stream", k, n)
		}
	}
	if n := e.streamMsgs(streams.DeadStream); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// The sweep judges a log abandoned when a later attempt of its build has
// started, and stores what it has. A later attempt counts only when its
// first message was signed by the builder handed its job: nobody can have
// a running build's log cut short by publishing on the next attempt's
// subject. A log nobody with the ticket wrote anything into is purged
// after its silence, and nothing is stored for it.
func TestForgedLaterAttemptsAndLogsAreNotTakenForAbandonedOnes(t *testing.T) {
	e, key := newTicketedEnv(t)
	data := randomBytes(30_000, 4)
	cs := chunks(data, 10_000)

	running := buildKey("tix", "running") // attempt 2 forged
	e.publishSignedChunks(running, 1, cs, nil, key.Ticket(running, 0))
	e.publishChunks(running, 2, cs[:1])
	retried := buildKey("tix", "retried") // attempt 2 genuine: the rule still works
	e.publishSignedChunks(retried, 1, cs, nil, key.Ticket(retried, 0))
	e.publishSignedChunks(retried, 2, cs[:1], nil, key.Ticket(retried, 0))
	squatted := buildKey("tix", "squatted") // nothing genuine at all
	e.publishChunks(squatted, 1, cs)

	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = 3 * time.Second
	e.run(cfg, e.st)

	eventually(t, 5*time.Second, "the retried build's first attempt stored as abandoned", func() bool {
		_, ok := object(t, e.st, retried, 1)
		return ok && e.logMsgs(retried, 1) == 0 // purged once the metadata is stored
	})
	if s := storedLog(t, e.st, retried, 1); !bytes.Equal(s.raw, data) || !strings.Contains(s.meta.AbandonedReason, "attempt 2") {
		t.Errorf("retried: stored %d bytes, reason %q; want its log, abandoned for attempt 2", len(s.raw), s.meta.AbandonedReason)
	}
	if _, ok := object(t, e.st, running, 1); ok {
		t.Error("running: taken as abandoned because of a forged later attempt")
	}
	eventually(t, 10*time.Second, "the squatted log purged after its silence", func() bool { return e.logMsgs(squatted, 1) == 0 })
	if _, ok := object(t, e.st, squatted, 1); ok {
		t.Error("squatted: a log nobody with the ticket wrote was stored")
	}
}

// With a job key set, an upload request for an experiment that has no
// record is held to tickets too: nobody may have logs stored under a name
// no experiment holds by leaving their request unsigned.
func TestUnsignedRequestsForUnknownExperimentsAreRefused(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(5_000, 3)
	cs := chunks(data, 2_000)
	ghost := buildKey("ghost", "c")
	e.publishLog(ghost, 1, cs, endFor(data, len(cs)))

	cfg := fastConfig("u")
	cfg.JobKey = key
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "the request dead-lettered", func() bool { return e.streamMsgs(streams.DeadStream) == 1 })
	if _, ok := object(t, e.st, ghost, 1); ok {
		t.Error("log stored on an unsigned request for an experiment with no record")
	}
}
