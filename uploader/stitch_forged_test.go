package uploader

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// A log stored as abandoned goes on (its builder was only slow): its start
// is in the store only, and the next upload stitches it. A builder
// credential publishes an unsigned chunk with Ejecta-Seq 1 on the log's
// subject before the builder goes on. Where the log starts is judged from
// the first message its builder signed, so the stored start is still
// joined to the rest and the whole genuine log stored.
func TestForgedFirstChunkDoesNotDefeatTheStitch(t *testing.T) {
	e, key := newTicketedEnv(t)
	k := buildKey("tix", "slow")
	ticket := key.Ticket(k, 0)
	data := randomBytes(100_000, 8)
	cs := chunks(data, 10_000)
	e.publishSignedChunks(k, 1, cs[:4], nil, ticket)

	cfg := fastConfig("u")
	cfg.JobKey = key
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	cfg.LenientAfter = 2
	e.run(cfg, e.st)
	eventually(t, 10*time.Second, "the silent start stored as abandoned and purged", func() bool {
		return e.logMsgs(k, 1) == 0 && abandonedMeta(t, e, k) != nil
	})

	// The forgery, ahead of the rest of the log.
	forged := buildlog.NewChunkMsg(streams.LogSubject(k, 1), buildlog.Chunk{Seq: 1, Offset: 0, Stream: buildlog.StreamStdout, Data: []byte("x")})
	forged.Header.Set(nats.MsgIdHdr, "forged-first")
	if _, err := e.js.PublishMsg(context.Background(), forged); err != nil {
		t.Fatal(err)
	}

	end := endFor(data, len(cs))
	e.publishSignedChunks(k, 1, cs[4:], &end, ticket)
	e.publishSigned(k, 1, end, ticket)
	eventually(t, 20*time.Second, "the request settled", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })
	s := storedLog(t, e.st, k, 1)
	if !bytes.Equal(s.plain, data) {
		t.Errorf("an unsigned first chunk defeated the stitch: stored %d bytes (abandoned=%v, %d gaps), want the whole genuine log of %d",
			len(s.plain), s.meta.Abandoned, len(s.meta.Gaps), len(data))
	}
}
