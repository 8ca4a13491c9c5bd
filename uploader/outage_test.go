package uploader

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// MinIO goes down in the middle of the work and comes back: logs published
// meanwhile wait on the stream, failed uploads are retried, and afterwards
// every log is stored exactly as published, once, with nothing else in the
// bucket.
func TestMinIOOutage(t *testing.T) {
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	m, st := minioStore(t, "outage")
	e := newEnv(t)
	cfg := fastConfig("u")
	cfg.MaxRetryDelay = 2 * time.Second
	e.run(cfg, st)

	const n = 30
	want := make([][]byte, n)
	publish := func(i int) {
		want[i] = append(append([]byte(nil), hostile...), randomBytes(1000+i*37_000, byte(i))...)
		cs := chunks(want[i], buildlog.MaxChunkBytes)
		e.publishLog(buildKey("outage", crateName(i)), 1, cs, endFor(want[i], len(cs)))
	}
	for i := range n / 3 {
		publish(i)
	}
	eventually(t, 20*time.Second, "the first logs stored", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })

	m.Stop(t)
	down := time.Now()
	for i := n / 3; i < n; i++ {
		publish(i)
	}
	time.Sleep(outage - time.Since(down))
	for i := n / 3; i < n; i++ {
		if e.logMsgs(buildKey("outage", crateName(i)), 1) == 0 {
			t.Errorf("log %d left the stream while the store was down", i)
		}
	}
	if got := e.streamMsgs(streams.UploadsStream); got != n-n/3 {
		t.Errorf("%d upload requests waiting during the outage, want %d", got, n-n/3)
	}
	m.Start(t)
	eventually(t, 60*time.Second, "every log stored after the outage", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })

	var keys []string
	for i := range n {
		k := buildKey("outage", crateName(i))
		s := storedLog(t, st, k, 1)
		if !bytes.Equal(s.raw, want[i]) || !bytes.Equal(s.plain, want[i]) || s.meta.Bytes != uint64(len(want[i])) {
			t.Errorf("log %d: stored %d (raw) / %d (plain) bytes, want the %d published", i, len(s.raw), len(s.plain), len(want[i]))
		}
		for _, key := range []string{streams.LogObjectKey(k, 1), streams.LogRawKey(k, 1), streams.LogPageKey(k, 1), streams.LogMetaKey(k, 1)} {
			keys = append(keys, streams.ExperimentPrefix("outage")+key)
		}
	}
	if n := e.streamMsgs(streams.LogsStream); n != 0 {
		t.Errorf("%s holds %d messages after the outage, want 0", streams.LogsStream, n)
	}
	// Nothing else in the bucket: no duplicate, no stray object.
	if got := bucketKeys(t, m, "outage"); !slices.Equal(got, sorted(keys)) {
		t.Errorf("bucket holds %d objects, want the %d of the %d logs:\n%q", len(got), len(keys), n, got)
	}
}
