package uploader

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// newSweeper is an uploader that is not running, for calling sweepOnce
// alone, and the streams a sweep reads.
func newSweeper(tb testing.TB, nc *nats.Conn, js jetstream.JetStream, st store.Store, cfg Config) (u *Uploader, logs, uploads jetstream.Stream) {
	tb.Helper()
	ctx := context.Background()
	u, err := New(cfg, nc, st, zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.ErrorLevel))
	if err != nil {
		tb.Fatal(err)
	}
	if u.experiments, err = js.KeyValue(ctx, streams.ExperimentsBucket); err != nil {
		tb.Fatal(err)
	}
	if logs, err = js.Stream(ctx, streams.LogsStream); err != nil {
		tb.Fatal(err)
	}
	if uploads, err = js.Stream(ctx, streams.UploadsStream); err != nil {
		tb.Fatal(err)
	}
	return u, logs, uploads
}

// One sweep over more logs than it fetches at a time asks for exactly the
// logs a later attempt abandoned: not a complete one (its request queued
// or not), not one still being written, not the later attempt itself, and
// not one with an upload request already queued. It counts every log for
// the backlog, and a second sweep asks for nothing more.
func TestSweepAsksForExactlyTheAbandonedLogs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := []byte("   Compiling itoa v1.0.1\n")
	cs := chunks(data, 100)
	want := map[string]string{} // abandoned request subject: reason
	logs, requests := 0, 0
	for i := range 3 * sweepBatch {
		k := buildKey("sweep", fmt.Sprintf("crate-%04d", i))
		switch i % 7 {
		case 0: // complete, its request queued
			e.publishLog(k, 1, cs, endFor(data, len(cs)))
			logs, requests = logs+1, requests+1
		case 1: // complete, its builder gone before it asked
			end, err := buildlog.NewEndMsg(streams.LogSubject(k, 1), 2, endFor(data, len(cs)))
			if err != nil {
				t.Fatal(err)
			}
			e.publishChunks(k, 1, cs)
			if _, err := e.js.PublishMsg(ctx, end); err != nil {
				t.Fatal(err)
			}
			logs++
		case 2: // retried: the first attempt is abandoned
			e.publishChunks(k, 1, cs)
			e.publishChunks(k, 2, cs)
			want[streams.AbandonedUploadSubject(k, 1)] = "attempt 2 of the same build started"
			logs += 2
		case 3: // retried twice, and re-run: every attempt but the last
			for _, a := range []int{1, 2, 3, 1001} {
				e.publishChunks(k, a, cs)
			}
			for _, a := range []int{1, 2, 3} {
				want[streams.AbandonedUploadSubject(k, a)] = "attempt 1001 of the same build started"
			}
			logs += 4
		case 4: // retried, its first attempt's request queued already
			e.publishChunks(k, 1, cs)
			e.publishChunks(k, 2, cs)
			e.publishRequest(k, 1, streams.LogEnd{})
			logs, requests = logs+2, requests+1
		default: // being written
			e.publishChunks(k, 1, cs)
			logs++
		}
	}

	u, logStream, uploads := newSweeper(t, e.nc, e.js, e.st, fastConfig("u"))
	abandoned := func() map[string]string {
		t.Helper()
		info, err := uploads.Info(ctx, jetstream.WithSubjectFilter(streams.AllAbandonedUploadsFilter))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for subj := range info.State.Subjects {
			m, err := uploads.GetLastMsgForSubject(ctx, subj)
			if err != nil {
				t.Fatal(err)
			}
			got[subj] = m.Header.Get(streams.HdrAbandoned)
		}
		return got
	}
	for pass := range 2 {
		if err := u.sweepOnce(ctx, logStream, uploads); err != nil {
			t.Fatalf("sweep %d: %v", pass+1, err)
		}
		got := abandoned()
		for subj, reason := range want {
			if got[subj] != reason {
				t.Errorf("sweep %d: %s: reason %q, want %q", pass+1, subj, got[subj], reason)
			}
		}
		for subj := range got {
			if _, ok := want[subj]; !ok {
				t.Errorf("sweep %d: %s asked for, not abandoned", pass+1, subj)
			}
		}
		var backlog dto.Metric
		if err := u.met.backlogLogs.Write(&backlog); err != nil {
			t.Fatal(err)
		}
		if n := backlog.GetGauge().GetValue(); n != float64(logs) {
			t.Errorf("sweep %d: backlog of %v logs, want %d", pass+1, n, logs)
		}
		info, err := uploads.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := info.State.Msgs; n != uint64(requests+len(want)) {
			t.Errorf("sweep %d: %d upload requests, want the builders' %d and %d abandoned", pass+1, n, requests, len(want))
		}
	}
}
