package streams_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
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

// A message larger than any ejecta message is refused by the server with
// an error that says so, on every stream a component consumes; one above
// the server's max_payload is refused by the client before it is sent.
func TestOversizedMessagesRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	k := streams.BuildKey{Experiment: "big", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	big := bytes.Repeat([]byte("x"), streams.MaxMessageBytes+1)
	for _, subj := range []string{streams.JobSubject(k), streams.LogSubject(k, 1), streams.UploadSubject(k, 1), streams.ResultSubject(k, 1)} {
		_, err := js.Publish(ctx, subj, big)
		if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) || !strings.Contains(err.Error(), "message size exceeds maximum allowed") {
			t.Errorf("publish %d bytes to %s: %v, want the server's refusal", len(big), subj, err)
		}
	}
	huge := bytes.Repeat([]byte("x"), int(js.Conn().MaxPayload())+1)
	if _, err := js.Publish(ctx, streams.JobSubject(k), huge); !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("publish %d bytes: %v, want %v", len(huge), err, nats.ErrMaxPayload)
	}
	// The server and the stream still serve.
	if _, err := js.Publish(ctx, streams.JobSubject(k), []byte(`{"v":1}`)); err != nil {
		t.Errorf("publish after the refusals: %v", err)
	}
}
