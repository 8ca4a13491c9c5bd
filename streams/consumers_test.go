package streams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// Each experiment and toolchain has a consumer of its own that sees only its
// jobs; they follow the policy of the latest Ensure; a leftover shared
// consumer is removed; deleting them leaves the others alone.
func TestJobsConsumers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	// The shared consumer of earlier versions, as they created it.
	if _, err := js.CreateOrUpdateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{
		Durable: "builders", FilterSubject: "ejecta.jobs.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	cfg := streams.DefaultConfig()
	cfg.JobAckWait, cfg.JobMaxDeliver = 7*time.Second, 5
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Consumer(ctx, streams.JobsStream, "builders"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("shared consumer after Ensure: %v, want it removed", err)
	}
	// Names that would collide if joined with '_' or '-'.
	a := &streams.Experiment{Name: "a_b", Toolchains: []string{"stable", "1.80.0"}}
	b := &streams.Experiment{Name: "a", Toolchains: []string{"b_stable", "nightly"}}
	for _, e := range []*streams.Experiment{a, b, a} {
		if err := streams.EnsureJobsConsumers(ctx, js, e); err != nil {
			t.Fatalf("EnsureJobsConsumers(%s): %v", e.Name, err)
		}
	}
	for _, k := range []streams.BuildKey{
		{Experiment: "a_b", Crate: "c", Version: "1.0.0", Toolchain: "1.80.0"},
		{Experiment: "a_b", Crate: "d", Version: "2.0.0", Toolchain: "stable"},
		{Experiment: "a", Crate: "c", Version: "1.0.0", Toolchain: "b_stable"},
	} {
		if _, err := js.Publish(ctx, streams.JobSubject(k), []byte(k.String())); err != nil {
			t.Fatal(err)
		}
	}
	// A re-run goes to the re-run consumer of its experiment and
	// toolchain alone.
	rerun := streams.BuildKey{Experiment: "a_b", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	if _, err := js.Publish(ctx, streams.RerunSubject(rerun), []byte("re-run "+rerun.String())); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ exp, tc, want string }{
		{"a_b", "stable", "re-run a_b/c@1.0.0/stable"},
		{"a_b", "1.80.0", ""},
		{"a", "b_stable", ""},
	} {
		cons, err := js.Consumer(ctx, streams.JobsStream, streams.RerunsConsumer(tt.exp, tt.tc))
		if err != nil {
			t.Fatalf("re-run consumer of %s/%s: %v", tt.exp, tt.tc, err)
		}
		if c := cons.CachedInfo().Config; c.AckWait != 7*time.Second || c.MaxDeliver != 6 {
			t.Errorf("consumer %s: AckWait %s MaxDeliver %d, want 7s and 6", c.Durable, c.AckWait, c.MaxDeliver)
		}
		want := 0
		if tt.want != "" {
			want = 1
		}
		if got := takeJobs(t, cons, want); tt.want == "" && len(got) != 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
			t.Errorf("re-run consumer %s/%s took %q, want %q", tt.exp, tt.tc, got, tt.want)
		}
	}
	for _, tt := range []struct{ exp, tc, want string }{
		{"a_b", "1.80.0", "a_b/c@1.0.0/1.80.0"},
		{"a_b", "stable", "a_b/d@2.0.0/stable"},
		{"a", "b_stable", "a/c@1.0.0/b_stable"},
		{"a", "nightly", ""},
	} {
		cons, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer(tt.exp, tt.tc))
		if err != nil {
			t.Fatalf("consumer of %s/%s: %v", tt.exp, tt.tc, err)
		}
		if c := cons.CachedInfo().Config; c.AckWait != 7*time.Second || c.MaxDeliver != 6 {
			t.Errorf("consumer %s: AckWait %s MaxDeliver %d, want 7s and 6", c.Durable, c.AckWait, c.MaxDeliver)
		}
		want := 0
		if tt.want != "" {
			want = 1
		}
		got := takeJobs(t, cons, want)
		if tt.want == "" && len(got) != 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
			t.Errorf("consumer %s/%s took %q, want %q", tt.exp, tt.tc, got, tt.want)
		}
	}
	// A later Ensure with the default policy updates existing consumers.
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("a", "nightly"))
	if err != nil {
		t.Fatal(err)
	}
	if c := cons.CachedInfo().Config; c.AckWait != streams.DefaultConfig().JobAckWait {
		t.Errorf("AckWait %s after Ensure with the default, want %s", c.AckWait, streams.DefaultConfig().JobAckWait)
	}
	if err := streams.DeleteJobsConsumers(ctx, js, a); err != nil {
		t.Fatal(err)
	}
	if err := streams.DeleteJobsConsumers(ctx, js, a); err != nil {
		t.Errorf("deleting them again: %v", err)
	}
	if _, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("a_b", "stable")); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer of a_b after delete: %v", err)
	}
	if _, err := js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("a", "b_stable")); err != nil {
		t.Errorf("consumer of another experiment after delete: %v", err)
	}
	for _, name := range []string{streams.RerunsConsumer("a_b", "stable"), streams.RerunsConsumer("a_b", "1.80.0")} {
		if _, err := js.Consumer(ctx, streams.JobsStream, name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer %s after delete: %v", name, err)
		}
	}
	// An experiment of an earlier version has no re-run consumers: the
	// next Ensure adds them, under the policy.
	if err := js.DeleteConsumer(ctx, streams.JobsStream, streams.RerunsConsumer("a", "nightly")); err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	cons, err = js.Consumer(ctx, streams.JobsStream, streams.RerunsConsumer("a", "nightly"))
	if err != nil {
		t.Fatalf("re-run consumer of an earlier version's experiment after Ensure: %v", err)
	}
	if c := cons.CachedInfo().Config; c.FilterSubject != streams.RerunsFilter("a", "nightly") || c.AckWait != 7*time.Second {
		t.Errorf("re-run consumer added by Ensure: filter %s, AckWait %s", c.FilterSubject, c.AckWait)
	}
}

// takeJobs takes what cons has, waiting up to 5s for want messages: a
// consumer may not see a message the stream has just stored at once. One
// more look after that catches any beyond want.
func takeJobs(t *testing.T, cons jetstream.Consumer, want int) []string {
	t.Helper()
	var got []string
	take := func() {
		batch, err := cons.FetchNoWait(5)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got = append(got, string(m.Data()))
			m.Ack()
		}
	}
	for deadline := time.Now().Add(5 * time.Second); len(got) < want && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		take()
	}
	take()
	return got
}
