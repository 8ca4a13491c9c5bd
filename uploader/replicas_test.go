package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Three replicas, each a process of its own, share 300 logs of mixed sizes;
// one is SIGKILLed mid-way. Its requests go to the others after AckWait,
// and in the end every log is stored exactly once (one "stored" report per
// log across the replicas, no stray object) and byte-identical to what was
// published.
func TestReplicasSurviveSIGKILL(t *testing.T) {
	m, st := minioStore(t, "replicas")
	ctx := context.Background()
	e := newEnv(t)
	// A short AckWait, so that the killed replica's requests come back
	// within the test's patience; replicas report progress well within it.
	const ackWait = 3 * time.Second
	cc := e.uploadsConsumer().Config
	cc.AckWait = ackWait
	if _, err := e.js.UpdateConsumer(ctx, streams.UploadsStream, cc); err != nil {
		t.Fatal(err)
	}
	natsURL := e.nc.ConnectedUrl()
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, fmt.Sprintf("r%d", i), natsURL, m.StoreURL("replicas"),
			envProgess+"=500ms"))
	}

	const n = 300
	sums := make([][32]byte, n)
	sizes := make([]int, n)
	for i := range n {
		// Mostly small logs, every tenth one of up to 1.25 MiB.
		size := 200 + (i*7919)%60_000
		if i%10 == 0 {
			size = 256<<10 + (i*104729)%(1<<20)
		}
		data := randomBytes(size, byte(i))
		copy(data, fmt.Sprintf("log %d\n", i))
		sums[i], sizes[i] = sha256.Sum256(data), size
		cs := chunks(data, buildlog.MaxChunkBytes)
		e.publishLog(buildKey("replicas", fmt.Sprintf("crate-%03d", i)), 1, cs, endFor(data, len(cs)))
	}

	// Kill a replica once it is busy and a part of the logs is stored.
	victim := reps[1]
	eventually(t, 60*time.Second, "a third of the logs stored", func() bool {
		return e.streamMsgs(streams.UploadsStream) <= n*2/3 && len(victim.lines("log stored")) > 0
	})
	victim.kill()
	killedAt := time.Now()
	eventually(t, 3*time.Minute, "every log stored", func() bool { return e.streamMsgs(streams.UploadsStream) == 0 })
	t.Logf("all stored %s after the kill; stored by replica: r0 %d, r1 (killed) %d, r2 %d",
		time.Since(killedAt).Round(time.Millisecond), len(reps[0].lines("log stored")),
		len(victim.lines("log stored")), len(reps[2].lines("log stored")))

	// Exactly once: a log is reported stored by one replica at most, or
	// found stored by a redelivery whose replica died between storing and
	// acking. A replica reports a log after its ack, so the killed one may
	// have acked up to Concurrency logs it never reported: those must be
	// in the store like every other, which is checked below.
	done := map[string]int{}
	for _, r := range reps {
		for _, msg := range []string{"log stored", "log already stored and purged; request was a redelivery"} {
			for _, l := range r.lines(msg) {
				done[fmt.Sprint(l["crate"])]++
			}
		}
	}
	unreported := 0
	for i := range n {
		switch c := done[fmt.Sprintf("crate-%03d", i)]; {
		case c == 0:
			unreported++
		case c > 1:
			t.Errorf("crate-%03d: stored %d times, want once", i, c)
		}
	}
	if unreported > DefaultConcurrency {
		t.Errorf("%d logs reported by no replica; at most the killed replica's %d in flight may be", unreported, DefaultConcurrency)
	}
	var keys []string
	for i := range n {
		k := buildKey("replicas", fmt.Sprintf("crate-%03d", i))
		s := storedLog(t, st, k, 1)
		if sha256.Sum256(s.raw) != sums[i] || !bytes.Equal(s.raw, s.plain) {
			t.Errorf("%s: stored %d bytes, sha256 differs from the %d published", k.Crate, len(s.raw), sizes[i])
		}
		for _, key := range []string{streams.LogObjectKey(k, 1), streams.LogRawKey(k, 1), streams.LogPageKey(k, 1), streams.LogMetaKey(k, 1)} {
			keys = append(keys, streams.ExperimentPrefix("replicas")+key)
		}
	}
	if got := bucketKeys(t, m, "replicas"); !slices.Equal(got, sorted(keys)) {
		t.Errorf("bucket holds %d objects, want the %d of the %d logs", len(got), len(keys), n)
	}
	if c := e.streamMsgs(streams.LogsStream); c != 0 {
		t.Errorf("%s holds %d messages, want 0", streams.LogsStream, c)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// bucketKeys lists every object in bucket, sorted.
func bucketKeys(t *testing.T, m testenv.MinIO, bucket string) []string {
	t.Helper()
	client, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for obj := range client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		got = append(got, obj.Key)
	}
	slices.Sort(got)
	return got
}
