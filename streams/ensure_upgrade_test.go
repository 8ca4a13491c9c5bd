package streams_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// A job stored on the jobs stream is announced on JobsQueuedFilter with its
// subject and headers and without its body; a duplicate is not announced.
func TestJobsQueuedCarriesNoBody(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	sub, err := nc.SubscribeSync(streams.JobsQueuedFilter)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	body := []byte(`{"v":1,"ticket":"secret-ticket"}`)
	for range 2 {
		if _, err := js.Publish(ctx, streams.JobSubject(k), body, jetstream.WithMsgID("one")); err != nil {
			t.Fatal(err)
		}
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no notice of a queued job: %v", err)
	}
	if len(m.Data) != 0 {
		t.Errorf("notice carries the job's body: %q", m.Data)
	}
	if got := m.Header.Get("Nats-Subject"); got != streams.JobSubject(k) {
		t.Errorf("notice names subject %q, want %q", got, streams.JobSubject(k))
	}
	if _, err := sub.NextMsg(300 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("a duplicate job was announced: %v", err)
	}
}

// Ensure brings the uploads stream and its consumer of an earlier version
// (builders' requests only) to both subjects, and Lookup asks for that.
func TestEnsureAddsAbandonedUploads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	// The stream and consumer as earlier versions made them.
	if _, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: streams.UploadsStream, Subjects: []string{"ejecta.uploads.>"},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxMsgSize: streams.MaxMessageBytes}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateConsumer(ctx, streams.UploadsStream, jetstream.ConsumerConfig{Durable: streams.UploadersConsumer,
		FilterSubject: "ejecta.uploads.>", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: -1, MaxAckPending: 100000}); err != nil {
		t.Fatal(err)
	}
	if err := streams.Lookup(ctx, js); !errors.Is(err, streams.ErrNotEnsured) {
		t.Fatalf("lookup of the earlier uploads stream: %v, want ErrNotEnsured", err)
	}
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := streams.Lookup(ctx, js); err != nil {
		t.Fatalf("lookup after Ensure: %v", err)
	}
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	abandoned, err := streams.NewAbandonedUploadMsg(k, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, abandoned); err != nil {
		t.Fatalf("publish an abandoned request: %v", err)
	}
	if _, err := js.Publish(ctx, streams.UploadSubject(k, 2), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streams.UploadsStream, streams.UploadersConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Subject())
	}
	want := []string{streams.AbandonedUploadSubject(k, 1), streams.UploadSubject(k, 2)}
	if !slices.Equal(got, want) {
		t.Errorf("the uploaders' consumer delivered %v, want %v", got, want)
	}
}
