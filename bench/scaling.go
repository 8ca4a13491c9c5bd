package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
)

// Scaling measures the uploaders' throughput onto MinIO with 1, 2 and 4
// replicas (child processes) sharing the upload queue, each time over a
// batch of logs published beforehand, against 1 replica. To tell whether
// the store is the bound, it also measures raw minio-go PUTs of the same
// logs, 8 at once: the most MinIO takes here. A replica writes each log
// twice (plain and zstd) plus a page and its metadata.
func Scaling(t testing.TB, full bool) []Row {
	logs, logSize, replicas := 4, int64(256<<10), []int{1, 2}
	if full {
		logs, logSize, replicas = 64, 4<<20, []int{1, 2, 4}
	}
	m := testenv.StartMinIO(t)
	t.Setenv(store.EnvS3AccessKey, m.AccessKey)
	t.Setenv(store.EnvS3SecretKey, m.SecretKey)

	put := rawPuts(t, m.StoreURL("raw"), logs, logSize, 8)
	rates := map[int]float64{}
	for _, n := range replicas {
		rates[n] = replicaRate(t, m.StoreURL(fmt.Sprintf("scale%d", n)), n, logs, logSize)
		t.Logf("scaling: %d replicas: %.1f MiB/s of logs", n, rates[n]/(1<<20))
	}
	var rows []Row
	for _, n := range replicas[1:] {
		r := rates[n] / rates[1]
		row := Row{
			Figure:   fmt.Sprintf("uploader scaling, %d replicas vs 1 onto MinIO (%d logs of %s)", n, logs, sizeBytes(logSize)),
			Ejecta:   fmt.Sprintf("%.1f MiB/s of logs", rates[n]/(1<<20)),
			Baseline: fmt.Sprintf("%.1f MiB/s with 1 replica; raw minio-go PUT of the same bytes, 8 at once: %.1f MiB/s", rates[1]/(1<<20), put/(1<<20)),
			Ratio:    fmt.Sprintf("%.2f×", r),
		}
		if !full {
			row.Verdict = Smoke // the 2-replica row has no goal, but is not judged either
		}
		if n == 4 {
			row.Goal = "≥ 3× at 4 (if the store is not the bound)"
			row.Verdict = judge(full, r >= 3)
		}
		row.Note = scalingBound(rates[n], put)
		rows = append(rows, row)
	}
	return append(rows, scalingWithLatency(t, m, full))
}

// storeDelay is added each way between the replicas and MinIO in
// scalingWithLatency: 100 ms a round trip, enough for the replicas to
// wait on the store rather than on the 2 cores they share with NATS and
// MinIO (at 20 ms, 4 replicas kept both cores busy).
const storeDelay = 50 * time.Millisecond

// scalingWithLatency measures 4 replicas against 1 (2 at smoke sizes)
// where the store, not the machine, bounds a replica: each round trip to
// MinIO gains storeDelay each way, as a store far away would, and the
// logs are small, so that a replica's time goes to waiting on its
// Concurrency uploads' requests, which more replicas must overlap.
func scalingWithLatency(t testing.TB, m testenv.MinIO, full bool) Row {
	logs, logSize, n := 16, int64(64<<10), 2
	if full {
		logs, n = 200, 4
	}
	proxy, err := measure.StartDelayProxy(m.Endpoint, storeDelay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	slow := m
	slow.Endpoint = proxy.Addr()
	one := replicaRate(t, slow.StoreURL("slow1"), 1, logs, logSize)
	more := replicaRate(t, slow.StoreURL(fmt.Sprintf("slow%d", n)), n, logs, logSize)
	// What the store takes over the same link with as many requests at
	// once as the replicas have uploads: each log is objectsPerLog objects.
	const objectsPerLog, objectSize = 5, 8 << 10
	raw := rawPuts(t, slow.StoreURL("slowraw"), logs*objectsPerLog, objectSize, n*uploader.DefaultConcurrency) / objectSize / objectsPerLog
	t.Logf("scaling with %s added round trip: 1 replica %.0f logs/s, %d replicas %.0f logs/s, raw PUTs %.0f logs' worth/s", 2*storeDelay,
		one/float64(logSize), n, more/float64(logSize), raw)
	r := more / one
	row := Row{
		Figure: fmt.Sprintf("uploader scaling with %s added store round trip, %d replicas vs 1 onto MinIO (%d logs of %s)",
			2*storeDelay, n, logs, sizeBytes(logSize)),
		Ejecta:   fmt.Sprintf("%.0f logs/s", more/float64(logSize)),
		Baseline: fmt.Sprintf("%.0f logs/s with 1 replica, same link", one/float64(logSize)),
		Ratio:    fmt.Sprintf("%.2f×", r),
		Goal:     "≥ 3× at 4 (the store's latency is the bound)",
		Verdict:  judge(full, r >= 3),
		Note: fmt.Sprintf("each replica uploads %d logs at once, a log being %d objects; raw minio-go PUTs of %d objects of %s over the same link, %d at once, store %.0f logs' worth a second (%.0f %% of it reached)",
			uploader.DefaultConcurrency, objectsPerLog, logs*objectsPerLog, sizeBytes(objectSize), n*uploader.DefaultConcurrency, raw, 100*more/float64(logSize)/raw),
	}
	return row
}

// scalingBound says what bounds a throughput of rate against raw PUTs of
// put: replicas write each log twice, so at half of put the store is the
// bound.
func scalingBound(rate, put float64) string {
	if 2*rate >= 0.8*put {
		return fmt.Sprintf("the store is the bound: replicas write %.0f %% of what raw PUTs reach", 100*2*rate/put)
	}
	return fmt.Sprintf("not the store (replicas write %.0f %% of raw PUT throughput): the 2 cores are shared by NATS, MinIO and the replicas", 100*2*rate/put)
}

// replicaRate publishes logs of logSize on a fresh server, starts n
// replicas, and returns the log bytes per second until every one is stored.
func replicaRate(t testing.TB, storeURL string, n, logs int, logSize int64) float64 {
	t.Helper()
	f := newFarm(t)
	ctx := context.Background()
	src := measure.NewGenerated(5)
	for i := range logs {
		k := streams.BuildKey{Experiment: "scale", Crate: fmt.Sprintf("crate-%03d", i), Version: "1.0.0", Toolchain: "stable"}
		if _, _, err := measure.PublishLogAsync(ctx, f.js, k, 1, src, logSize); err != nil {
			t.Fatal(err)
		}
	}
	if err := measure.WaitPublished(ctx, f.js); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var cs []*child
	for i := range n {
		cs = append(cs, startChild(t, childSpec{Kind: "uploader", Name: fmt.Sprintf("r%d", i), NATS: f.nats.URL, Store: storeURL}))
	}
	end := waitUntil(t, 30*time.Minute, "every log stored", func() bool {
		return drained(f.js, streams.UploadsStream, streams.UploadersConsumer)
	})
	for _, c := range cs {
		c.stop()
	}
	return float64(int64(logs)*logSize) / end.Sub(start).Seconds()
}

// rawPuts stores logs objects of logSize with minio-go (store.S3) at
// storeURL, parallel at once, and returns bytes per second.
func rawPuts(t testing.TB, storeURL string, logs int, logSize int64, parallel int) float64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([][]byte, logs)
	src := measure.NewGenerated(5)
	for i := range bodies {
		bodies[i] = make([]byte, logSize)
		io.ReadFull(src, bodies[i])
	}
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, logs)
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for i := range work {
				key := fmt.Sprintf("raw/%03d.log", i)
				if err := st.Put(ctx, key, byteReader(bodies[i]), logSize, "text/plain"); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range logs {
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatalf("raw PUT: %v", err)
	}
	return float64(int64(logs)*logSize) / took.Seconds()
}

func byteReader(b []byte) io.Reader { return &sliceReader{b: b} }

// sliceReader reads a byte slice without being an io.Seeker, as a stream
// would be.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
