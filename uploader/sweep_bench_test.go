package uploader

import (
	"context"
	"fmt"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// BenchmarkSweep is one sweep for abandoned logs over n logs waiting on
// the stream: logs still being written (a chunk each, no end marker, none
// silent for long), which the sweep must judge one by one, and complete
// logs whose upload requests wait (a chunk, the end marker and the
// builder's request each), what waits when the uploaders fall behind.
// Allocations are the whole process's, the in-process server's included;
// heap-peak-MiB is the highest HeapInuse seen during the sweeps,
// live-peak-MiB the highest live heap, sampled every 5 ms;
// heap-before-MiB is HeapInuse before them (the server holding the logs);
// msgs-out/op counts what the uploader's connection sent (requests and
// pulls).
//
//	go test -run '^$' -bench BenchmarkSweep -benchtime 2x ./uploader/
func BenchmarkSweep(b *testing.B) {
	for _, complete := range []bool{false, true} {
		for _, n := range []int{20_000, 100_000} {
			name := fmt.Sprintf("running=%d", n)
			if complete {
				name = fmt.Sprintf("complete=%d", n)
			}
			b.Run(name, func(b *testing.B) { benchmarkSweep(b, n, complete) })
		}
	}
}

func benchmarkSweep(b *testing.B, n int, complete bool) {
	ctx := context.Background()
	srv := testenv.StartNATS(b)
	nc, js := srv.Connect(b)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		b.Fatal(err)
	}
	publishWaitingLogs(b, js, n, complete)
	st, err := store.NewFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	u, logs, uploads := newSweeper(b, nc, js, st, Config{Name: "bench"})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak, live, stop := sampleHeap()
	sent := nc.Stats().OutMsgs
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := u.sweepOnce(ctx, logs, uploads); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(nc.Stats().OutMsgs-sent)/float64(b.N), "msgs-out/op")
	b.ReportMetric(float64(peak.Load())/(1<<20), "heap-peak-MiB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(live.Load())/(1<<20), "live-peak-MiB")
}

// publishWaitingLogs publishes n logs of one chunk each: ended, with
// their upload requests, if complete.
func publishWaitingLogs(b *testing.B, js jetstream.JetStream, n int, complete bool) {
	b.Helper()
	data := []byte("   Compiling itoa v1.0.1\n")
	chunk := buildlog.Chunk{Seq: 1, Stream: buildlog.StreamStdout, Data: data}
	end := endFor(data, 1)
	acked := func() {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("publishes not acknowledged")
		}
	}
	for i := range n {
		k := buildKey("bench", fmt.Sprintf("crate-%06d", i))
		msgs := []*nats.Msg{buildlog.NewChunkMsg(streams.LogSubject(k, 1), chunk)}
		if complete {
			m, err := buildlog.NewEndMsg(streams.LogSubject(k, 1), 2, end)
			if err != nil {
				b.Fatal(err)
			}
			req, err := jsonRequest(k, 1, end)
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, m, &nats.Msg{Subject: streams.UploadSubject(k, 1), Data: req})
		}
		for _, m := range msgs {
			if _, err := js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		if i%1000 == 999 {
			acked()
		}
	}
	acked()
}

// writePeakProfile writes the heap profile, as of the last collection,
// to the file EJECTA_BENCH_PEAKPROFILE names, if it names one: called as
// the live heap peaks, it tells what was live at the peak, and whose
// (the uploader's or the in-process server's).
func writePeakProfile() {
	name := os.Getenv("EJECTA_BENCH_PEAKPROFILE")
	if name == "" {
		return
	}
	f, err := os.Create(name)
	if err != nil {
		return
	}
	defer f.Close()
	pprof.Lookup("heap").WriteTo(f, 0)
}

// sampleHeap records the highest HeapInuse and the highest live heap (as
// of the last collection: what HeapInuse holds beyond it is garbage not
// yet collected) until stop is called.
func sampleHeap() (inuse, live *atomic.Uint64, stop func()) {
	inuse, live = new(atomic.Uint64), new(atomic.Uint64)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		sample := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			runtime.ReadMemStats(&m)
			inuse.Store(max(inuse.Load(), m.HeapInuse))
			rtmetrics.Read(sample)
			if l := sample[0].Value.Uint64(); l > live.Load() {
				live.Store(l)
				writePeakProfile()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return inuse, live, func() { close(done); <-stopped }
}
