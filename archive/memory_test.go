package archive

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heapPeaks samples the heap until stop is called and returns the highest
// heap in use seen (live objects and garbage not yet collected) and the
// highest live heap a collection found.
func heapPeaks() (stop func() (inuse, live uint64)) {
	var inuse, live atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			runtime.ReadMemStats(&ms)
			inuse.Store(max(inuse.Load(), ms.HeapInuse))
			metrics.Read(sample)
			live.Store(max(live.Load(), sample[0].Value.Uint64()))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		return inuse.Load(), live.Load()
	}
}

// TestWriteMemoryStaysWithinBudget archives logs far larger than the
// memory budget (4 × 64 MiB, streamed) and more small logs than the budget
// holds (read ahead), and checks the Go heap stays bounded: nothing holds a
// whole log or the archive.
func TestWriteMemoryStaysWithinBudget(t *testing.T) {
	const budget = 8 << 20
	// The live heap holds the budget, the encoder and the decoders (a
	// window each), a part buffer of an S3 upload and copy buffers. The heap
	// in use adds the garbage the collector lets pile up, up to as much as
	// is live (GOGC=100); holding one whole 64 MiB log or the archive would
	// break both ceilings.
	const liveCeiling, inuseCeiling = 32 << 20, 64 << 20
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			// 4 × 64 MiB on disk; on MinIO, slower to fill, 4 × 16 MiB
			// (each still twice the budget).
			bigSize := int64(64 << 20)
			if name != "file" || testing.Short() {
				bigSize = 16 << 20
			}
			var logs []testLog
			for i := range 4 {
				logs = append(logs, putLog(t, st, "regressed/big"+itoa(i)+"-1.0.0/stable.log", bigSize, uint64(i+1), i%2 == 0))
				for j := range 8 {
					logs = append(logs, putLog(t, st, "regressed/small"+itoa(i*8+j)+"-1.0.0/stable.log", 1<<20, uint64(100+i*8+j), true))
				}
			}
			var entries []Entry
			for _, l := range logs {
				entries = append(entries, l.entry)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := int64(ms.HeapInuse)
			stop := heapPeaks()
			start := time.Now()
			key := testPrefix + "logs-archives/regressed.tar.zst"
			sum, err := Write(context.Background(), st, testPrefix, key, entries, Options{Parallel: 4, Budget: budget})
			inuse, live := stop()
			if err != nil {
				t.Fatal(err)
			}
			grewInuse, grewLive := int64(inuse)-base, int64(live)-base
			t.Logf("%d logs, %d MiB in %s; over the %.1f MiB before: live heap +%.1f MiB, heap in use +%.1f MiB at most (budget %d MiB)",
				sum.Logs, sum.Bytes>>20, time.Since(start).Round(time.Millisecond), float64(base)/(1<<20),
				float64(grewLive)/(1<<20), float64(grewInuse)/(1<<20), budget>>20)
			if grewLive > liveCeiling {
				t.Errorf("live heap grew by %d MiB, want at most %d MiB", grewLive>>20, liveCeiling>>20)
			}
			if grewInuse > inuseCeiling {
				t.Errorf("heap in use grew by %d MiB, want at most %d MiB", grewInuse>>20, inuseCeiling>>20)
			}
			checkArchive(t, st, key, logs)
		})
	}
}
