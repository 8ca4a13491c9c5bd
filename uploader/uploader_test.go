package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store/storetest"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// hostile is what a build log may hold and a careless pipeline would mangle.
var hostile = []byte("<script>alert('x')</script>\n\x1b[1;31merror\x1b[0m: \xff\xfe invalid utf-8 \xc3\x28\r\n\x00NUL\x07bell\n")

func TestUploadStoresExactBytes(t *testing.T) {
	e := newEnv(t)
	logs := []struct {
		crate     string
		data      []byte
		chunkSize int
	}{
		{"hostile", hostile, 7},
		{"one-chunk", []byte("Compiling foo v1.0.0\n"), buildlog.MaxChunkBytes},
		{"empty", nil, buildlog.MaxChunkBytes},
		{"multi-mib", randomBytes(3<<20+12345, 1), buildlog.MaxChunkBytes},
	}
	for _, l := range logs {
		cs := chunks(l.data, l.chunkSize)
		e.publishLog(buildKey("exp1", l.crate), 1, cs, endFor(l.data, len(cs)))
	}
	e.run(fastConfig("u1"), e.st)

	eventually(t, 20*time.Second, "upload requests acked", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	for _, l := range logs {
		k := buildKey("exp1", l.crate)
		got, ok := object(t, e.st, k, 1)
		if !ok {
			t.Errorf("%s: not stored", l.crate)
			continue
		}
		if !bytes.Equal(got, l.data) {
			t.Errorf("%s: stored %d bytes that differ from the %d published", l.crate, len(got), len(l.data))
		}
		s := storedLog(t, e.st, k, 1)
		if !bytes.Equal(s.raw, l.data) {
			t.Errorf("%s: compressed log decompresses to %d bytes that differ from the %d published", l.crate, len(s.raw), len(l.data))
		}
		sum := sha256.Sum256(l.data)
		m := s.meta
		if m.Bytes != uint64(len(l.data)) || m.SHA256 != hex.EncodeToString(sum[:]) || m.Lines != lines(l.data) ||
			m.Status != streams.StatusBuildFail || m.ExitCode != 101 || m.Abandoned || len(m.Gaps) != 0 ||
			m.Attempt != 1 || m.BuildKey != k || m.FirstAt.IsZero() || m.LastAt.Before(m.FirstAt) {
			t.Errorf("%s: metadata %+v", l.crate, m)
		}
		if !strings.Contains(s.page, "</html>") || strings.Contains(s.page, "<script>") {
			t.Errorf("%s: page is not a whole page or holds a live <script>:\n%s", l.crate, s.page)
		}
		if n := e.logMsgs(k, 1); n != 0 {
			t.Errorf("%s: %d messages left on %s, want the subject purged", l.crate, n, streams.LogsStream)
		}
	}
	if n := e.streamMsgs(streams.LogsStream); n != 0 {
		t.Errorf("%s holds %d messages, want 0", streams.LogsStream, n)
	}
}

func TestTwoReplicasStoreEachLogOnce(t *testing.T) {
	e := newEnv(t)
	cs := storetest.NewCounting(e.st)
	e.run(fastConfig("a"), cs)
	e.run(fastConfig("b"), cs)

	const n = 20
	want := make([][]byte, n)
	for i := range n {
		want[i] = randomBytes(50_000+i*10_000, byte(i))
		c := chunks(want[i], buildlog.MaxChunkBytes)
		e.publishLog(buildKey("exp2", crateName(i)), 1, c, endFor(want[i], len(c)))
	}
	eventually(t, 30*time.Second, "every request acked", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	for i := range n {
		k := buildKey("exp2", crateName(i))
		if got, ok := object(t, e.st, k, 1); !ok || !bytes.Equal(got, want[i]) {
			t.Errorf("%s: stored=%v, bytes equal=%v", k, ok, bytes.Equal(got, want[i]))
		}
		if c := cs.Puts(objectKey(k, 1)); c != 1 {
			t.Errorf("%s: stored %d times, want once", k, c)
		}
	}
	if n := e.streamMsgs(streams.LogsStream); n != 0 {
		t.Errorf("%s holds %d messages, want 0", streams.LogsStream, n)
	}
}

func TestPoisonRequestsAreDeadLettered(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := buildKey("exp3", "good")
	poison := []struct{ subj, data string }{
		{streams.UploadSubject(k, 7), "\xff\x00 not json at all\r\nPUB x 1\r\n"},
		{streams.UploadSubject(k, 8), `{"v":2,"experiment":"exp3","crate":"good","version":"1.0.0","toolchain":"stable","attempt":8}`},
		{streams.UploadSubject(k, 9), `{"v":1,"experiment":"exp3","crate":"good","version":"1.0.0","toolchain":"stable","attempt":9,"surprise":1}`},
	}
	for _, p := range poison {
		if _, err := e.js.Publish(ctx, p.subj, []byte(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte("fine\n")
	e.publishLog(k, 1, chunks(data, 100), endFor(data, 1))
	e.run(fastConfig("u"), e.st)

	eventually(t, 10*time.Second, "requests settled", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	if got, ok := object(t, e.st, k, 1); !ok || !bytes.Equal(got, data) {
		t.Errorf("the good log after the poison ones: stored=%v bytes=%q", ok, got)
	}

	dead, err := e.js.OrderedConsumer(ctx, streams.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := dead.Fetch(10, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	if len(got) != 3 {
		t.Fatalf("dead stream holds %d messages, want 3", len(got))
	}
	// Workers take requests concurrently, so dead letters come in any order.
	want := map[string]struct{ deadSubj, reason, data string }{
		streams.UploadSubject(k, 7): {streams.DeadSubject("", streams.AnonymousSender), "invalid character", poison[0].data},
		streams.UploadSubject(k, 8): {streams.DeadSubject("exp3", streams.AnonymousSender), "unsupported schema version", poison[1].data},
		streams.UploadSubject(k, 9): {streams.DeadSubject("exp3", streams.AnonymousSender), "unknown field", poison[2].data},
	}
	for _, m := range got {
		from := m.Headers().Get(streams.HdrDeadSubject)
		w, ok := want[from]
		if !ok {
			t.Errorf("dead letter from unexpected subject %q", from)
			continue
		}
		delete(want, from)
		reason := m.Headers().Get(streams.HdrDeadReason)
		if m.Subject() != w.deadSubj || !strings.Contains(reason, w.reason) {
			t.Errorf("dead letter of %s on %s with reason %q, want %s and %q", from, m.Subject(), reason, w.deadSubj, w.reason)
		}
		if strings.ContainsAny(reason, "\r\n") {
			t.Errorf("dead letter of %s: reason has a line break: %q", from, reason)
		}
		if string(m.Data()) != w.data {
			t.Errorf("dead letter of %s: data %q, want the request unchanged %q", from, m.Data(), w.data)
		}
	}
}

func TestBadLogsAreNotStored(t *testing.T) {
	e := newEnv(t)
	data := randomBytes(100_000, 9)
	good := chunks(data, 10_000)

	corruptSum := endFor(data, len(good))
	corruptSum.SHA256 = strings.Repeat("0", 64)
	wrongBytes := endFor(data, len(good))
	wrongBytes.Bytes++
	badOffset := append([]buildlog.Chunk(nil), good...)
	badOffset[3].Offset += 1
	// A hole: chunk 5 never published, later ones renumbered to close the
	// seq gap would hide it, so keep their seqs.
	hole := append(append([]buildlog.Chunk(nil), good[:4]...), good[5:]...)

	cases := []struct {
		crate string
		cs    []buildlog.Chunk
		end   streams.LogEnd
	}{
		{"corrupt-sha256", good, corruptSum},
		{"wrong-bytes", good, wrongBytes},
		{"bad-offset", badOffset, endFor(data, len(good))},
		{"hole", hole, endFor(data, len(good))},
	}
	for _, c := range cases {
		e.publishLog(buildKey("exp4", c.crate), 1, c.cs, c.end)
	}
	e.run(fastConfig("u"), e.st)

	// Every request fails, is given back and comes again.
	eventually(t, 15*time.Second, "each bad request delivered at least twice", func() bool {
		return e.uploadsConsumer().Delivered.Consumer >= uint64(2*len(cases))
	})
	for _, c := range cases {
		k := buildKey("exp4", c.crate)
		if _, ok := object(t, e.st, k, 1); ok {
			t.Errorf("%s: stored", c.crate)
		}
		if n := e.logMsgs(k, 1); n == 0 {
			t.Errorf("%s: chunks purged from the stream", c.crate)
		}
	}
	if n := e.streamMsgs(streams.UploadsStream); n != uint64(len(cases)) {
		t.Errorf("uploads stream holds %d requests, want all %d kept for retry", n, len(cases))
	}
}

// A request redelivered after its log was stored and purged is done; one
// whose log is nowhere is dead-lettered rather than retried forever.
func TestRequestWithoutChunks(t *testing.T) {
	e := newEnv(t)
	done, lost := buildKey("exp5", "done"), buildKey("exp5", "lost")
	data := []byte("already stored\n")
	// The metadata is written last: its presence means "stored".
	for _, key := range []string{streams.LogObjectKey(done, 1), streams.LogMetaKey(done, 1)} {
		if err := e.st.Put(context.Background(), streams.ExperimentPrefix("exp5")+key, bytes.NewReader(data), -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	e.publishRequest(done, 1, endFor(data, 1))
	e.publishRequest(lost, 1, endFor(data, 1))
	e.run(fastConfig("u"), e.st)

	eventually(t, 10*time.Second, "both requests settled", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	if got, _ := object(t, e.st, done, 1); !bytes.Equal(got, data) {
		t.Errorf("stored object changed to %q", got)
	}
	if n := e.streamMsgs(streams.DeadStream); n != 1 {
		t.Errorf("dead stream holds %d messages, want the lost log's request", n)
	}
}

// The missing end marker is waited for, up to IdleTimeout; it arrives in
// time and the log is stored.
func TestWaitsForLateMessages(t *testing.T) {
	e := newEnv(t)
	k := buildKey("exp6", "late")
	data := randomBytes(70_000, 3)
	cs := chunks(data, buildlog.MaxChunkBytes)
	end := endFor(data, len(cs))
	subj := streams.LogSubject(k, 1)
	ctx := context.Background()
	for _, c := range cs[:2] {
		if _, err := e.js.PublishMsg(ctx, buildlog.NewChunkMsg(subj, c)); err != nil {
			t.Fatal(err)
		}
	}
	e.publishRequest(k, 1, end) // ahead of its log: never done by builders, but harmless
	cfg := fastConfig("u")
	cfg.IdleTimeout = 5 * time.Second
	e.run(cfg, e.st)

	time.Sleep(300 * time.Millisecond)
	if _, err := e.js.PublishMsg(ctx, buildlog.NewChunkMsg(subj, cs[2])); err != nil {
		t.Fatal(err)
	}
	m, err := buildlog.NewEndMsg(subj, end.Chunks+1, end)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "request acked", func() bool {
		return e.streamMsgs(streams.UploadsStream) == 0
	})
	if got, _ := object(t, e.st, k, 1); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes that differ from the %d published", len(got), len(data))
	}
	if c := e.uploadsConsumer().Delivered.Consumer; c != 1 {
		t.Errorf("request delivered %d times, want once", c)
	}
}

func TestMinIO(t *testing.T) {
	_, st := minioStore(t, "ejecta-logs")
	e := newEnv(t)
	k := buildKey("exp7", "on-minio")
	data := append(append([]byte(nil), hostile...), randomBytes(2<<20, 7)...)
	cs := chunks(data, buildlog.MaxChunkBytes)
	e.publishLog(k, 1, cs, endFor(data, len(cs)))
	bad := buildKey("exp7", "corrupt")
	corrupt := endFor(data, len(cs))
	corrupt.SHA256 = strings.Repeat("f", 64)
	e.publishLog(bad, 1, cs, corrupt)
	e.run(fastConfig("u"), st)

	eventually(t, 20*time.Second, "the good request acked", func() bool {
		return e.logMsgs(k, 1) == 0 && e.streamMsgs(streams.UploadsStream) == 1
	})
	if got, ok := object(t, st, k, 1); !ok || !bytes.Equal(got, data) {
		t.Errorf("MinIO object: stored=%v, %d bytes, want the %d published", ok, len(got), len(data))
	}
	if _, ok := object(t, st, bad, 1); ok {
		t.Error("log with a corrupt sha256 stored in MinIO")
	}
}

// lines counts lines as the metadata does: newlines, plus an unfinished
// last line.
func lines(b []byte) uint64 {
	n := uint64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
