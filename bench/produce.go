package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Produce measures `experiment create`: the producer selects every crate
// of a directory source and publishes one job per crate and toolchain,
// with its Nats-Msg-Id and the record's checkpoints. The baseline is the
// same number of messages of the same size, with Msg-Ids, published
// asynchronously to a stream of their own on the same server and their
// acks awaited: what publishing the jobs costs with nothing else done.
func Produce(t testing.TB, full bool) []Row {
	crates := 100
	if full {
		crates = 5_000
	}
	jobs := 2 * crates
	f := newFarm(t)
	src := crateSource(t, crates)
	start := time.Now()
	if added := f.create("produce", src); added != jobs {
		t.Fatalf("the producer added %d jobs, want %d", added, jobs)
	}
	took := time.Since(start)
	rate := float64(jobs) / took.Seconds()
	ceiling := asyncPublishRate(t, f.js, jobs, 420)
	return []Row{{
		Figure:   fmt.Sprintf("experiment create, producer → jobs stream, %s jobs (directory source, Msg-Ids, checkpoints)", size(jobs)),
		Ejecta:   fmt.Sprintf("%.0f jobs/s (%s)", rate, took.Round(time.Millisecond)),
		Baseline: fmt.Sprintf("%.0f msgs/s raw JetStream async publish with Msg-Ids, same count and size", ceiling),
		Ratio:    ratio(rate, ceiling),
		Goal:     "≥ 1.4M jobs in 5 min (4,667 jobs/s)",
		Verdict:  judge(full, rate >= 4667),
		Note:     "includes reading the crate source and selecting the crates",
	}}
}

// asyncPublishRate publishes n messages of size bytes, each with its own
// Msg-Id, to a stream of its own, 256 in flight, and returns messages per
// second once every ack is in.
func asyncPublishRate(t testing.TB, js jetstream.JetStream, n, size int) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH_PRODUCE", Subjects: []string{"bench.produce.>"},
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	start := time.Now()
	for from := 0; from < n; from += 256 {
		var futs []jetstream.PubAckFuture
		for i := from; i < min(n, from+256); i++ {
			subj := fmt.Sprintf("bench.produce.%d", i)
			fut, err := js.PublishAsync(subj, body, jetstream.WithMsgID(subj))
			if err != nil {
				t.Fatal(err)
			}
			futs = append(futs, fut)
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
	}
	return float64(n) / time.Since(start).Seconds()
}
