package uploader

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// publishChunks publishes cs on the attempt's log subject, no end marker.
func (e *env) publishChunks(k streams.BuildKey, attempt int, cs []buildlog.Chunk) {
	e.t.Helper()
	for _, c := range cs {
		if _, err := e.js.PublishMsg(context.Background(), buildlog.NewChunkMsg(streams.LogSubject(k, attempt), c)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// A builder that dies leaves a log without an end marker. It is stored as
// it is and marked abandoned: at once when a later attempt of the same
// build shows up, or after AbandonAfter of silence.
func TestAbandonedLogsAreStoredAndMarked(t *testing.T) {
	e := newEnv(t)
	retried := buildKey("exp8", "retried") // attempt 2 started
	silent := buildKey("exp8", "silent")   // nobody came back
	running := buildKey("exp8", "running") // still being written: not touched
	data := randomBytes(100_000, 4)
	cs := chunks(data, 10_000)
	e.publishChunks(retried, 1, cs[:6])
	e.publishChunks(retried, 2, cs[:1])
	e.publishChunks(silent, 1, cs[:3])

	cfg := fastConfig("u")
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = 2 * time.Second
	e.run(cfg, e.st)
	// running, and the retried build's second attempt, keep writing within
	// AbandonAfter until the checks are done.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range cs {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			e.js.PublishMsg(context.Background(), buildlog.NewChunkMsg(streams.LogSubject(running, 1), cs[i]))
			if i > 0 {
				e.js.PublishMsg(context.Background(), buildlog.NewChunkMsg(streams.LogSubject(retried, 2), cs[i]))
			}
		}
	}()

	eventually(t, 5*time.Second, "the retried build's first attempt stored", func() bool {
		_, ok := object(t, e.st, retried, 1)
		return ok && e.logMsgs(retried, 1) == 0
	})
	if took := time.Now(); e.logMsgs(silent, 1) == 0 {
		t.Errorf("silent log taken before AbandonAfter (at %s)", took)
	}
	eventually(t, 10*time.Second, "the silent log stored after AbandonAfter", func() bool {
		_, ok := object(t, e.st, silent, 1)
		return ok && e.logMsgs(silent, 1) == 0
	})
	for _, c := range []struct {
		k      streams.BuildKey
		want   []byte
		reason string
	}{
		{retried, data[:60_000], "attempt 2 of the same build started"},
		{silent, data[:30_000], "no output for"},
	} {
		s := storedLog(t, e.st, c.k, 1)
		if !bytes.Equal(s.raw, c.want) || !bytes.Equal(s.plain, c.want) {
			t.Errorf("%s: stored %d bytes, want the %d on the stream", c.k, len(s.raw), len(c.want))
		}
		if !s.meta.Abandoned || !strings.Contains(s.meta.AbandonedReason, c.reason) || s.meta.Status != "" || s.meta.Bytes != uint64(len(c.want)) {
			t.Errorf("%s: metadata %+v, want abandoned because %q", c.k, s.meta, c.reason)
		}
		if !strings.Contains(s.page, "Abandoned attempt") {
			t.Errorf("%s: page does not say the attempt was abandoned", c.k)
		}
	}
	if _, ok := object(t, e.st, retried, 2); ok {
		t.Error("the running second attempt was stored")
	}
	if _, ok := object(t, e.st, running, 1); ok || e.logMsgs(running, 1) == 0 {
		t.Error("a log still being written was taken as abandoned")
	}
	if n := e.streamMsgs(streams.UploadsStream); n != 0 {
		t.Errorf("%d upload requests left", n)
	}
}

// A hole that does not fill is, after LenientAfter deliveries, stored with
// a marker where the chunks are missing, and listed in the metadata.
func TestHoleStoredMarkedAfterRetries(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp9", "holey")
	var data []byte
	for i := range 3000 {
		data = append(data, []byte(strings.Repeat("y", i%40)+"\n")...)
	}
	cs := chunks(data, 1000)
	holey := append(append([]buildlog.Chunk(nil), cs[:4]...), cs[6:]...)
	e.publishLog(k, 1, holey, endFor(data, len(cs)))
	cfg := fastConfig("u")
	cfg.LenientAfter = 2
	e.run(cfg, e.st)
	eventually(t, 15*time.Second, "holey log stored", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })
	if c := e.uploadsConsumer().Delivered.Consumer; c != 3 {
		t.Errorf("request delivered %d times, want 2 failures then the lenient store", c)
	}
	s := storedLog(t, e.st, k, 1)
	marker := streams.GapMarkerPrefix + "chunks 5 to 6 missing; 2000 bytes missing at offset 4000]\n"
	if data[3999] != '\n' {
		marker = "\n" + marker // on a line of its own
	}
	want := append(append(append([]byte(nil), data[:4000]...), marker...), data[6000:]...)
	if !bytes.Equal(s.raw, want) {
		t.Errorf("stored log:\n%q\nwant the hole marked:\n%q", s.raw[3900:4200], want[3900:4200])
	}
	if len(s.meta.Gaps) != 1 || s.meta.Gaps[0] != (streams.LogGap{Offset: 4000, Bytes: 2000, FirstSeq: 5, LastSeq: 6}) {
		t.Errorf("gaps = %+v", s.meta.Gaps)
	}
	if s.meta.Status != streams.StatusBuildFail || s.meta.Abandoned {
		t.Errorf("metadata %+v", s.meta)
	}
}

// A killed attempt whose retry finishes and is stored before any sweep
// looks (short builds do) is stored as abandoned as soon as the retry is:
// once the retry's log is purged, a sweep could only judge it by silence.
func TestAbandonedLogStoredWhenLaterAttemptFinishes(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp10", "quick")
	killed := randomBytes(30_000, 5)
	e.publishChunks(k, 1, chunks(killed, 10_000))
	retry := randomBytes(20_000, 6)
	e.publishLog(k, 2, chunks(retry, 10_000), endFor(retry, 2))

	cfg := fastConfig("u")
	cfg.SweepInterval = time.Hour // only the retry's upload can notice
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "the killed attempt stored", func() bool {
		_, ok := object(t, e.st, k, 1)
		return ok && e.logMsgs(k, 1) == 0
	})
	s := storedLog(t, e.st, k, 1)
	if !bytes.Equal(s.raw, killed) || !s.meta.Abandoned || !strings.Contains(s.meta.AbandonedReason, "attempt 2 of the same build finished") {
		t.Errorf("attempt 1 stored as %d bytes with %+v, want the %d bytes on the stream, abandoned", len(s.raw), s.meta, len(killed))
	}
	if s := storedLog(t, e.st, k, 2); !bytes.Equal(s.raw, retry) || s.meta.Abandoned {
		t.Errorf("attempt 2 stored as %d bytes with %+v", len(s.raw), s.meta)
	}
}

// An upload request on the builders' subject is never taken as abandoned,
// whatever its headers say: a builder could otherwise have another's live
// log stored as it stands and purged. It waits for the end marker like any
// request, and the log is then stored complete.
func TestAbandonedHeaderFromBuildersIgnored(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := buildKey("exp8", "live")
	data := randomBytes(30_000, 5)
	cs := chunks(data, 10_000)
	e.publishChunks(k, 1, cs[:2])
	req, err := jsonRequest(k, 1, streams.LogEnd{})
	if err != nil {
		t.Fatal(err)
	}
	forged := nats.NewMsg(streams.UploadSubject(k, 1))
	forged.Header.Set(streams.HdrAbandoned, "says a builder")
	forged.Data = req
	if _, err := e.js.PublishMsg(ctx, forged); err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig("u")
	cfg.AbandonAfter = time.Hour
	e.run(cfg, e.st)

	time.Sleep(2 * time.Second) // several deliveries of the request
	if _, ok := object(t, e.st, k, 1); ok {
		t.Fatal("a live log was stored on a builder's word that it was abandoned")
	}
	if n := e.logMsgs(k, 1); n != 2 {
		t.Fatalf("the live log has %d chunks on the stream, want its 2", n)
	}
	// The build goes on and ends its log: the request is an ordinary one.
	e.publishChunks(k, 1, cs[2:])
	end, err := buildlog.NewEndMsg(streams.LogSubject(k, 1), uint64(len(cs))+1, endFor(data, len(cs)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(ctx, end); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the log stored once complete", func() bool {
		_, ok := object(t, e.st, k, 1)
		return ok && e.streamMsgs(streams.UploadsStream) == 0
	})
	if s := storedLog(t, e.st, k, 1); s.meta.Abandoned || !bytes.Equal(s.plain, data) {
		t.Errorf("stored %d bytes, abandoned=%v; want the whole log, not abandoned", len(s.plain), s.meta.Abandoned)
	}
}

// A request whose body names another build or attempt than its subject
// is dead-lettered.
func TestRequestOnAnotherSubjectDeadLettered(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp8", "moved")
	data := []byte("done\n")
	e.publishLog(k, 2, chunks(data, 100), endFor(data, 1))
	moved, err := jsonRequest(k, 2, endFor(data, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), streams.UploadSubject(k, 3), moved); err != nil {
		t.Fatal(err)
	}
	e.run(fastConfig("u"), e.st)
	eventually(t, 10*time.Second, "requests settled", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })
	if n := e.streamMsgs(streams.DeadStream); n != 1 {
		t.Errorf("%d dead letters, want the moved request's", n)
	}
	if _, ok := object(t, e.st, k, 3); ok {
		t.Error("attempt 3 stored")
	}
}

// A log a lenient read still cannot take (an end marker whose checksum the
// bytes, whole, do not match) is no hole that time could fill: after
// LenientAfter deliveries its request goes to the dead stream with the
// reason, nothing is stored, and the log stays on the stream for an
// operator, instead of the request being retried for ever.
func TestLogAnEndMarkerDisownsIsDeadLetteredAfterRetries(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp11", "disowned")
	data := randomBytes(5_000, 12)
	cs := chunks(data, 2_000)
	end := endFor(data, len(cs))
	end.SHA256 = strings.Repeat("0", 64)
	e.publishLog(k, 1, cs, end)
	cfg := fastConfig("u")
	cfg.LenientAfter = 2
	e.run(cfg, e.st)
	eventually(t, 15*time.Second, "the request dead-lettered", func() bool { return e.streamMsgs(streams.DeadStream) == 1 })
	if n := e.streamMsgs(streams.UploadsStream); n != 0 {
		t.Errorf("%d upload requests left", n)
	}
	if _, ok := object(t, e.st, k, 1); ok {
		t.Error("a log its end marker disowns was stored")
	}
	if n := e.logMsgs(k, 1); n != uint64(len(cs))+1 {
		t.Errorf("%d messages of the log left on the stream, want all %d", n, len(cs)+1)
	}
	dead, err := e.js.Stream(context.Background(), streams.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dead.GetMsg(context.Background(), dead.CachedInfo().State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Header.Get(streams.HdrDeadReason); !strings.Contains(r, "sha256") {
		t.Errorf("dead letter reason %q, want it to name the checksum", r)
	}
}
