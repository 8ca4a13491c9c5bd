package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

func TestEnsureIsIdempotentAndDeclaresWorkQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	for i := 0; i < 2; i++ {
		if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
			t.Fatalf("Ensure #%d: %v", i+1, err)
		}
	}
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Retention; got != jetstream.WorkQueuePolicy {
		t.Errorf("jobs retention %v, want work queue", got)
	}
	ls, err := js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := ls.CachedInfo().Config; c.Discard != jetstream.DiscardNew || c.MaxBytes <= 0 || c.Storage != jetstream.FileStorage {
		t.Errorf("logs stream config %+v: want file storage, max bytes, discard new", c)
	}
	// A job published twice with the same Msg-Id is stored once.
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	for i := 0; i < 2; i++ {
		if _, err := js.Publish(ctx, streams.JobSubject(k), []byte("{}"), jetstream.WithMsgID("same")); err != nil {
			t.Fatal(err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("jobs stream holds %d messages, want 1", info.State.Msgs)
	}
	if err := streams.Ensure(ctx, js, streams.Config{Replicas: 0}); err == nil {
		t.Error("Ensure accepted 0 replicas")
	}
}
