package uploader

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// BenchmarkSweep is one sweep for abandoned logs over n logs still being
// written (a chunk each, no end marker, none silent for long): what a
// sweep reads and keeps when many logs wait. Allocations are the whole
// process's, the in-process server's included; heap-peak-MiB is the
// highest HeapInuse seen during the sweeps, sampled every 5 ms.
//
//	go test -run '^$' -bench BenchmarkSweep -benchtime 3x ./uploader/
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{20_000, 100_000} {
		b.Run(fmt.Sprintf("logs=%d", n), func(b *testing.B) { benchmarkSweep(b, n) })
	}
}

func benchmarkSweep(b *testing.B, n int) {
	ctx := context.Background()
	srv := testenv.StartNATS(b)
	nc, js := srv.Connect(b)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		b.Fatal(err)
	}
	publishRunningLogs(b, js, n)
	st, err := store.NewFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	u, logs, uploads := newSweeper(b, nc, js, st, Config{Name: "bench"})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak, stop := sampleHeapInuse()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := u.sweepOnce(ctx, logs, uploads); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(peak.Load())/(1<<20), "heap-peak-MiB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "heap-before-MiB")
}

// publishRunningLogs publishes n logs of one chunk each, none ended.
func publishRunningLogs(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	chunk := buildlog.Chunk{Seq: 1, Stream: buildlog.StreamStdout, Data: []byte("   Compiling itoa v1.0.1\n")}
	for i := range n {
		k := buildKey("bench", fmt.Sprintf("crate-%06d", i))
		if _, err := js.PublishMsgAsync(buildlog.NewChunkMsg(streams.LogSubject(k, 1), chunk)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				b.Fatal("publishes not acknowledged")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		b.Fatal("publishes not acknowledged")
	}
}

// sampleHeapInuse records the highest HeapInuse until stop is called.
func sampleHeapInuse() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() { close(done); <-stopped }
}
