package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// Logs measures a build's log from the task's output to the store: a
// builder (no sandbox: the task is a function writing the log in 32 KiB
// writes) cuts it into chunks on EJECTA_LOGS, an uploader in the same
// process streams it into a file store. The figure is the log's size over
// the time from its first byte written to its metadata object stored.
// The baseline is what the server takes at most: the same bytes in 32 KiB
// messages published asynchronously to a file stream of the same server,
// as `nats bench js pub` does.
func Logs(t testing.TB, full bool) []Row {
	size := int64(4 << 20)
	if full {
		size = 256 << 20
	}
	f := newFarm(t)
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	raw := rawPublish(t, f.js, size)

	var first, written firstWrite
	f.startBuilder(stepRunner{step: func(tk sandbox.Task) {
		if len(tk.Args) > 2 && tk.Args[1] == "+stable" && tk.Args[2] == "check" {
			first.mark()
			writeN(tk.Stdout, measure.NewGenerated(7), size, buildlog.MaxChunkBytes)
			written.mark()
		}
	}}, 1)
	f.startUploader(st)
	f.create("logs", crateSource(t, 1))
	k := streams.BuildKey{Experiment: "logs", Crate: "bench-00000", Version: "1.0.0", Toolchain: "stable"}
	meta := streams.ExperimentPrefix("logs") + streams.LogMetaKey(k, 1)
	done := waitUntil(t, 10*time.Minute, "the log's metadata in the store", func() bool { return exists(st, meta) })
	took := done.Sub(first.time())
	// The two phases, which add up: the builder takes the task's output
	// (classifying it line by line, publishing chunks), and the uploader
	// copies the log once it is complete.
	build, upload := written.time().Sub(first.time()), done.Sub(written.time())
	t.Logf("logs: %d MiB stored in %s (task output taken in %s, then stored in %s); raw publish took %s", size>>20, took, build, upload, raw)

	ej, base := float64(size)/took.Seconds(), float64(size)/raw.Seconds()
	return []Row{{
		Figure:   fmt.Sprintf("log throughput, task output → chunks → JetStream → uploader → file store (%d MiB log, 32 KiB chunks)", size>>20),
		Ejecta:   mibps(size, took.Seconds()),
		Baseline: mibps(size, raw.Seconds()) + " raw JetStream async publish, same bytes, same server",
		Ratio:    ratio(ej, base),
		Goal:     "≥ 50 % of baseline",
		Verdict:  judge(full, ej >= 0.5*base),
		Note: fmt.Sprintf("the builder took the output in %s (%s, %s of raw), then the uploader, which starts on a complete log, stored it in %s (%s); builder, uploader and NATS share the process and 2 cores",
			build.Round(time.Millisecond), mibps(size, build.Seconds()), ratio(float64(size)/build.Seconds(), base), upload.Round(time.Millisecond), mibps(size, upload.Seconds())),
	}}
}

// rawPublish publishes size bytes in 32 KiB messages asynchronously to a
// file stream of its own and returns how long until all were stored.
func rawPublish(t testing.TB, js jetstream.JetStream, size int64) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_RAW", Subjects: []string{"bench.raw"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create the raw stream: %v", err)
	}
	defer js.DeleteStream(context.Background(), "BENCH_RAW")
	src := measure.NewGenerated(7)
	start := time.Now()
	for off := int64(0); off < size; off += buildlog.MaxChunkBytes {
		data := make([]byte, min(buildlog.MaxChunkBytes, size-off))
		src.Read(data)
		if js.PublishAsyncPending() >= 2048 {
			if err := measure.WaitPublished(ctx, js); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := js.PublishAsync("bench.raw", data); err != nil {
			t.Fatalf("raw publish: %v", err)
		}
	}
	if err := measure.WaitPublished(ctx, js); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}
