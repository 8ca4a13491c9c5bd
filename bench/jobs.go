package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// jobSlots is the builder's slots for no-op jobs: more than cores, since a
// no-op job waits on the server, not on a CPU.
const jobSlots = 8

// Jobs measures the pipeline around the sandbox: the producer creates an
// experiment, one builder runs its jobs with a runner whose tasks succeed
// at once without output (the sandbox is off: builder.Runner is an
// interface, and a process-level no-op task would only add fork and exec),
// and the reporter counts every result. The figure is jobs over the time
// from `experiment create` to the reporter's progress counting the last
// one. The ceiling is a plain JetStream work queue on the same server:
// the same number of messages consumed and acknowledged.
func Jobs(t testing.TB, full bool) []Row {
	crates := 10
	if full {
		crates = 2_000
	}
	jobs := 2 * crates
	f := newFarm(t)
	ceiling := workQueueRate(t, f.js, jobs)

	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := crateSource(t, crates)
	f.startBuilder(stepRunner{}, jobSlots)
	f.startReporter(st)
	ctx := context.Background()
	kv, err := f.js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		t.Fatal(err)
	}
	start, cpu := time.Now(), selfCPU()
	if added := f.create("jobs", src); added != jobs {
		t.Fatalf("the producer added %d jobs, want %d", added, jobs)
	}
	produced := time.Since(start)
	done := waitUntil(t, 30*time.Minute, "the reporter counting every job", func() bool {
		e, err := kv.Get(ctx, "jobs")
		var p streams.Progress
		return err == nil && json.Unmarshal(e.Value(), &p) == nil && p.Done == jobs
	})
	rate := float64(jobs) / done.Sub(start).Seconds()
	// The process's CPU per job (builder, reporter, producer and NATS):
	// on shared cores it varies less than the rate, which waits on others.
	cpuPerJob := (selfCPU() - cpu) / time.Duration(jobs)
	return []Row{{
		Figure:   fmt.Sprintf("no-op job throughput, producer → builder (%d slots, no-op runner, sandbox off) → reporter, %s jobs", jobSlots, size(jobs)),
		Ejecta:   fmt.Sprintf("%.0f jobs/s", rate),
		Baseline: fmt.Sprintf("%.0f msgs/s raw JetStream work queue consume+ack", ceiling),
		Ratio:    ratio(rate, ceiling),
		Goal:     "≥ 1,000 jobs/s",
		Verdict:  judge(full, rate >= 1000),
		Note: fmt.Sprintf("measures the pipeline, not the sandbox; the producer took %s; %s of CPU per job, all components",
			produced.Round(time.Millisecond), cpuPerJob.Round(10*time.Microsecond)),
	}}
}

// workQueueRate publishes n messages to a work-queue stream of its own,
// then consumes and acknowledges them with a durable pull consumer, and
// returns the messages per second from the start of consuming until the
// stream is empty.
func workQueueRate(t testing.TB, js jetstream.JetStream, n int) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_WQ", Subjects: []string{"bench.wq.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("create the work queue: %v", err)
	}
	defer js.DeleteStream(context.Background(), "BENCH_WQ")
	job := make([]byte, 300) // about the size of a streams.Job
	for i := range n {
		if js.PublishAsyncPending() >= 2048 {
			if err := measure.WaitPublished(ctx, js); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := js.PublishAsync(fmt.Sprintf("bench.wq.%d", i%100), job); err != nil {
			t.Fatal(err)
		}
	}
	if err := measure.WaitPublished(ctx, js); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	start := time.Now()
	cc, err := c.Consume(func(m jetstream.Msg) {
		if m.Ack() == nil {
			acked.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Stop()
	end := waitUntil(t, 5*time.Minute, "the work queue empty", func() bool {
		info, err := s.Info(ctx)
		return acked.Load() == int64(n) && err == nil && info.State.Msgs == 0
	})
	return float64(n) / end.Sub(start).Seconds()
}
