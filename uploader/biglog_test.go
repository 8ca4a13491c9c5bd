package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"
)

// EnvBench enables the long measurements (a 1 GiB log, 10k objects);
// `make bench` sets it.
const EnvBench = "EJECTA_BENCH"

// maxReplicaRSS is the bound on an uploader's resident memory whatever the
// size of the log it stores.
const maxReplicaRSS = 64 << 20

// A 1 GiB log, half random and half repetitive, through one uploader
// replica in a process of its own, onto MinIO: the compressed object
// decompresses to exactly the bytes produced, and the replica's peak RSS
// stays within maxReplicaRSS. The normal suite runs it on 64 MiB.
//
// The bound applies to anonymous memory (heap and stacks), which is what
// would grow with the log. The executable's own pages, file-backed, shared
// and reclaimable (about 35 MiB of this test binary, as of the ejecta
// binary: containerd and NATS code included), are logged but not counted.
func TestBigLogBoundedMemory(t *testing.T) {
	size := int64(64 << 20)
	if os.Getenv(EnvBench) == "1" {
		size = 1 << 30
	}
	m, st := minioStore(t, "big")
	ctx := context.Background()
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	k := buildKey("big", "huge")
	start := time.Now()
	sum, chunks := publishGenerated(t, js, k, size)
	t.Logf("published %d MiB in %d chunks in %s", size>>20, chunks, time.Since(start).Round(time.Millisecond))

	r := startReplica(t, "big", srv.URL, m.StoreURL("big"))
	mem := r.watchMemory()
	start = time.Now()
	for r.lines("log stored") == nil {
		if time.Since(start) > 10*time.Minute {
			t.Fatal("log not stored after 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	anon, hwm := mem.peak(t)
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

// publishGenerated publishes size bytes as one attempt's log, as a builder
// would, alternating 1 MiB of random bytes with 1 MiB of repetitive compiler
// output, then the end marker and the upload request. It returns the
// sha256 of what it published.
func publishGenerated(t *testing.T, js jetstream.JetStream, k streams.BuildKey, size int64) ([]byte, int) {
	t.Helper()
	ctx := context.Background()
	subj := streams.LogSubject(k, 1)
	src := &generated{rnd: rand.NewChaCha8([32]byte{42})}
	sum := sha256.New()
	var off int64
	seq := 0
	for off < size {
		data := make([]byte, min(int64(streams.MaxChunkBytes), size-off))
		src.Read(data)
		sum.Write(data)
		seq++
		if _, err := js.PublishMsgAsync(streams.NewChunkMsg(subj, streams.Chunk{Seq: uint64(seq), Offset: uint64(off), Stream: streams.StreamStdout, Data: data})); err != nil {
			t.Fatal(err)
		}
		off += int64(len(data))
		if seq%512 == 0 {
			waitAsync(t, js)
		}
	}
	waitAsync(t, js)
	end := streams.LogEnd{Status: streams.StatusTestPass, Chunks: uint64(seq), Bytes: uint64(size), SHA256: fmt.Sprintf("%x", sum.Sum(nil))}
	m, err := streams.NewEndMsg(subj, end.Chunks+1, end)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	req, err := jsonRequest(k, 1, end)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, streams.UploadSubject(k, 1), req); err != nil {
		t.Fatal(err)
	}
	return sum.Sum(nil), seq
}

func waitAsync(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("async publishes not acknowledged after a minute")
	}
}

// generated alternates 1 MiB of random bytes with 1 MiB of repetitive
// compiler output.
type generated struct {
	rnd *rand.ChaCha8
	pos int64
}

var compilerOutput = []byte("   Compiling serde v1.0.210\n\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m: unused variable: `x`\n  --> src/lib.rs:12:9\n   |\n12 |     let x = 5;\n   |         ^ help: if this is intentional, prefix it with an underscore: `_x`\n")

func (g *generated) Read(p []byte) (int, error) {
	for i := range p {
		if (g.pos>>20)%2 == 0 {
			g.rnd.Read(p[i : i+1])
		} else {
			p[i] = compilerOutput[g.pos%int64(len(compilerOutput))]
		}
		g.pos++
	}
	return len(p), nil
}
