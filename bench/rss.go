package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// EnvSmallLogs, set to a number, makes the rss benchmark store that many
// small logs instead of its default.
const EnvSmallLogs = "EJECTA_BENCH_SMALL_LOGS"

// maxReplicaRSS is the goal for an uploader's resident memory whatever
// the size and number of the logs it stores.
const maxReplicaRSS = 64 << 20

// RSS measures the peak memory of an uploader replica running as a child
// process: storing one big log onto MinIO, and storing many small logs
// onto a file store (at 4 objects a log, MinIO on 2 cores would take most
// of an hour for 100k; the store client is the same for both sizes of
// log, what grows with their number is the uploader's own state). Logs are
// published before the replica starts, so it works at full speed. The
// figure is anonymous memory (heap and stacks); the executable's
// file-backed pages, shared and reclaimable, are not counted.
func RSS(t testing.TB, full bool) []Row {
	bigSize, small := int64(16<<20), 200
	if full {
		// The goal's size: about 11 minutes at the ~150 logs/s one replica
		// keeps up with 100k logs waiting (BENCHMARKS.md).
		bigSize, small = 1<<30, 100_000
	}
	if n, err := strconv.Atoi(os.Getenv(EnvSmallLogs)); err == nil && n > 0 {
		small = n
	}
	m := testenv.StartMinIO(t)
	t.Setenv(store.EnvS3AccessKey, m.AccessKey)
	t.Setenv(store.EnvS3SecretKey, m.SecretKey)
	big := replicaPeak(t, m.StoreURL("rss"), func(f *farm) error {
		k := streams.BuildKey{Experiment: "rss", Crate: "huge", Version: "1.0.0", Toolchain: "stable"}
		_, _, err := measure.PublishLog(context.Background(), f.js, k, 1, measure.NewGenerated(42), bigSize)
		return err
	})
	many := replicaPeak(t, "file://"+t.TempDir(), func(f *farm) error {
		ctx := context.Background()
		data := measure.NewGenerated(3)
		for i := range small {
			k := streams.BuildKey{Experiment: "rss", Crate: fmt.Sprintf("small-%06d", i), Version: "1.0.0", Toolchain: "stable"}
			if _, _, err := measure.PublishLogAsync(ctx, f.js, k, 1, data, 1<<10); err != nil {
				return err
			}
		}
		return measure.WaitPublished(ctx, f.js)
	})
	row := func(what string, p peak) Row {
		return Row{
			Figure:  "uploader peak RSS (anonymous), " + what,
			Ejecta:  mib(p.anon),
			Ratio:   fmt.Sprintf("%.0f %% of goal", 100*float64(p.anon)/maxReplicaRSS),
			Goal:    "≤ 64 MiB",
			Verdict: judge(full, p.anon <= maxReplicaRSS),
			Note:    fmt.Sprintf("VmHWM with file-backed pages %s; stored in %s", mib(p.hwm), p.took.Round(time.Millisecond)),
		}
	}
	return []Row{
		row(fmt.Sprintf("one %s log onto MinIO", sizeBytes(bigSize)), big),
		row(fmt.Sprintf("%s logs of 1 KiB onto a file store", size(small)), many),
	}
}

type peak struct {
	anon, hwm int64
	took      time.Duration
}

// replicaPeak publishes with publish on a fresh server, then runs one
// uploader replica as a child process on storeURL until every upload
// request is done, and returns its peak memory.
func replicaPeak(t testing.TB, storeURL string, publish func(f *farm) error) peak {
	t.Helper()
	f := newFarm(t)
	if err := publish(f); err != nil {
		t.Fatalf("publish the logs: %v", err)
	}
	c := startChild(t, childSpec{Kind: "uploader", Name: "rss", NATS: f.nats.URL, Store: storeURL})
	mem := measure.WatchMemory(c.pid())
	start := time.Now()
	waitUntil(t, 60*time.Minute, "every upload request done", func() bool {
		return drained(f.js, streams.UploadsStream, streams.UploadersConsumer)
	})
	took := time.Since(start)
	anon, hwm, err := mem.Peak()
	if err != nil {
		t.Fatal(err)
	}
	c.stop()
	return peak{anon: anon, hwm: hwm, took: took}
}

// sizeBytes formats a power-of-two size: 1 GiB, 16 MiB.
func sizeBytes(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
