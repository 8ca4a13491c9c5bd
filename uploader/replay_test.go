package uploader

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// A builder credential may read any message of the logs stream
// (STREAM.MSG.GET) and publish on any log subject. It captures the first
// genuine, signed chunk of a log, waits until the log is stored and purged,
// and publishes the captured message again (a fresh Nats-Msg-Id: the MAC
// does not cover it). The sweep finds a log without an end marker and
// judges it abandoned after its silence; the uploader, finding the log
// stored complete, purges the replay and keeps the stored log as it is.
func TestReplayedChunkDoesNotReplaceAStoredLog(t *testing.T) {
	e, key := newTicketedEnv(t)
	k := buildKey("tix", "victim")
	ticket := key.Ticket(k, 0)
	data := randomBytes(50_000, 7)
	cs := chunks(data, 20_000)
	end := endFor(data, len(cs))
	e.publishSignedChunks(k, 1, cs, &end, ticket)

	// The attacker's capture, with only what a builder may do.
	ctx := context.Background()
	logs, err := e.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	first, err := logs.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(streams.LogSubject(k, 1)))
	if err != nil {
		t.Fatal(err)
	}

	e.publishSigned(k, 1, end, ticket)
	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "genuine log stored and purged", func() bool {
		got, ok := object(t, e.st, k, 1)
		return ok && bytes.Equal(got, data) && e.logMsgs(k, 1) == 0
	})

	replay := nats.NewMsg(first.Subject)
	for h, v := range first.Header {
		replay.Header[h] = v
	}
	replay.Header.Set(nats.MsgIdHdr, "attacker-replay")
	replay.Data = first.Data
	if _, err := e.js.PublishMsg(ctx, replay); err != nil {
		t.Fatal(err)
	}

	// Give the sweep its AbandonAfter and an upload.
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		s := storedLog(t, e.st, k, 1)
		if s.meta.Abandoned || !bytes.Equal(s.plain, data) {
			t.Errorf("a replayed genuine chunk had the stored, complete log of a finished build replaced: abandoned=%v, %d bytes stored, want %d",
				s.meta.Abandoned, len(s.plain), len(data))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
