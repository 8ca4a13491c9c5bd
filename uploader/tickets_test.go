package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// putRecord stores an experiment record as the producer would.
func (e *env) putRecord(name string, tickets bool) {
	e.t.Helper()
	rec := streams.Experiment{V: 1, Name: name, Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/src", Crates: 1, Jobs: 2, CreatedAt: time.Now().UTC(), Tickets: tickets}
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		e.t.Fatal(err)
	}
}

// publishMarked publishes cs and the end marker end on the attempt's log
// subject, as a builder does, without the upload request.
func (e *env) publishMarked(k streams.BuildKey, attempt int, cs []buildlog.Chunk, end streams.LogEnd) {
	e.t.Helper()
	e.publishChunks(k, attempt, cs)
	m, err := buildlog.NewEndMsg(streams.LogSubject(k, attempt), end.Chunks+1, end)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

// publishSigned publishes the upload request of k's attempt signed with
// ticket ("" unsigned), with the Nats-Msg-Id a builder gives it.
func (e *env) publishSigned(k streams.BuildKey, attempt int, end streams.LogEnd, ticket string) {
	e.t.Helper()
	req := streams.UploadRequest{V: 1, BuildKey: k, Attempt: attempt, End: end}
	req.Sign(ticket)
	data, err := json.Marshal(req)
	if err != nil {
		e.t.Fatal(err)
	}
	m := nats.NewMsg(streams.UploadSubject(k, attempt))
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, streams.SignedMsgID(m.Subject, req.MAC))
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

// An experiment whose jobs carry tickets has a log stored only on a request
// signed with its job's ticket, and only if the log on the stream is what
// the request says. Forgeries are dead-lettered and nothing is stored. An
// experiment from before tickets takes unsigned requests.
func TestUploadRequestsMustBeSignedForTicketedExperiments(t *testing.T) {
	e, key := newTicketedEnv(t)
	e.putRecord("old", false)
	data := randomBytes(50_000, 7)
	cs := chunks(data, 20_000)
	end := endFor(data, len(cs))

	genuine := buildKey("tix", "genuine")
	e.publishSignedChunks(genuine, 1, cs, &end, key.Ticket(genuine, 0))
	e.publishSigned(genuine, 1, end, key.Ticket(genuine, 0))

	// A complete log, and a request no builder handed the job signed.
	unsigned := buildKey("tix", "unsigned")
	e.publishMarked(unsigned, 1, cs, end)
	e.publishSigned(unsigned, 1, end, "")
	// Signed with the ticket of another build (one its builder held).
	stolen := buildKey("tix", "stolen")
	e.publishMarked(stolen, 1, cs, end)
	e.publishSigned(stolen, 1, end, key.Ticket(genuine, 0))
	// A genuine request, but another builder put its own log and end
	// marker on the subject first.
	replaced := buildKey("tix", "replaced")
	other := randomBytes(50_000, 8)
	e.publishMarked(replaced, 1, chunks(other, 20_000), endFor(other, len(cs)))
	e.publishSigned(replaced, 1, end, key.Ticket(replaced, 0))

	old := buildKey("old", "plain")
	e.publishLog(old, 1, cs, end)

	cfg := fastConfig("u")
	cfg.JobKey = key
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "requests settled", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })

	for _, k := range []streams.BuildKey{genuine, old} {
		if got, ok := object(t, e.st, k, 1); !ok || !bytes.Equal(got, data) {
			t.Errorf("%s: stored=%v, %d bytes; want the log", k, ok, len(got))
		}
	}
	for _, k := range []streams.BuildKey{unsigned, stolen, replaced} {
		if _, ok := object(t, e.st, k, 1); ok {
			t.Errorf("%s: stored on a forged request", k)
		}
		if n := e.logMsgs(k, 1); n == 0 {
			t.Errorf("%s: log purged on a forged request", k)
		}
	}
	reasons := map[string]string{}
	ctx := context.Background()
	dead, err := e.js.Stream(ctx, streams.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= dead.CachedInfo().State.LastSeq; seq++ {
		m, err := dead.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[m.Header.Get(streams.HdrDeadSubject)] = m.Header.Get(streams.HdrDeadReason)
	}
	for k, want := range map[streams.BuildKey]string{unsigned: "no MAC", stolen: "does not match", replaced: "not the one its builder signed for"} {
		if r := reasons[streams.UploadSubject(k, 1)]; !strings.Contains(r, want) {
			t.Errorf("%s: dead letter reason %q, want %q", k, r, want)
		}
	}
	if len(reasons) != 3 {
		t.Errorf("%d dead letters, want 3: %v", len(reasons), reasons)
	}
}
