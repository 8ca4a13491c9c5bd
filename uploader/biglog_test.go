package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/klauspost/compress/zstd"
)

// maxReplicaRSS is the bound on an uploader's resident memory whatever the
// size of the log it stores.
const maxReplicaRSS = 64 << 20

// A 1 GiB log, half random and half repetitive, through one uploader
// replica in a process of its own, onto MinIO: the compressed object
// decompresses to exactly the bytes produced, and the replica's peak RSS
// stays within maxReplicaRSS. The suite runs it on 64 MiB; `make bench`
// (package bench, row "rss") measures 1 GiB.
//
// The bound applies to anonymous memory (heap and stacks), which is what
// would grow with the log. The executable's own pages, file-backed, shared
// and reclaimable (about 35 MiB of this test binary, as of the ejecta
// binary: containerd and NATS code included), are logged but not counted.
func TestBigLogBoundedMemory(t *testing.T) {
	const size = int64(64 << 20)
	m, st := minioStore(t, "big")
	ctx := context.Background()
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	k := buildKey("big", "huge")
	start := time.Now()
	sum, chunks, err := measure.PublishLog(ctx, js, k, 1, measure.NewGenerated(42), size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("published %d MiB in %d chunks in %s", size>>20, chunks, time.Since(start).Round(time.Millisecond))

	r := startReplica(t, "big", srv.URL, m.StoreURL("big"))
	mem := measure.WatchMemory(r.cmd.Process.Pid)
	start = time.Now()
	for r.lines("log stored") == nil {
		if time.Since(start) > 10*time.Minute {
			t.Fatal("log not stored after 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	anon, hwm, err := mem.Peak()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d MiB in %s (%.0f MiB/s); replica peak RSS: %.1f MiB anonymous (heap, stacks), %.1f MiB with the executable's file-backed pages",
		size>>20, took.Round(time.Millisecond), float64(size>>20)/took.Seconds(), float64(anon)/(1<<20), float64(hwm)/(1<<20))
	if anon > maxReplicaRSS {
		t.Errorf("replica peak anonymous RSS %.1f MiB, want at most %d MiB", float64(anon)/(1<<20), maxReplicaRSS>>20)
	}

	// Check the stored objects by streaming them, not by reading them whole.
	pfx := streams.ExperimentPrefix(k.Experiment)
	rc, err := st.Get(ctx, pfx+streams.LogRawKey(k, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	h := sha256.New()
	n, err := io.Copy(h, zr)
	if err != nil {
		t.Fatalf("decompress the stored log: %v", err)
	}
	if n != size || !bytes.Equal(h.Sum(nil), sum) {
		t.Errorf("stored log decompresses to %d bytes (sha256 %x), want the %d produced (sha256 %x)", n, h.Sum(nil), size, sum)
	}
	page, err := st.Get(ctx, pfx+streams.LogPageKey(k, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	pn, _ := io.Copy(io.Discard, page)
	if pn > 16<<20 {
		t.Errorf("the page of a %d MiB log is %d MiB: not head and tail", size>>20, pn>>20)
	}
}
