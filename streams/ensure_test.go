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
	for _, subj := range []string{streams.JobSubject(k), streams.LogSubject(k, 1), streams.UploadSubject(k, 1), streams.ResultSubject(k, 1, streams.AnonymousSender)} {
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

// Ensure bounds the results and dead-letter streams, also when it updates
// streams an earlier version made without bounds. Results are refused, never
// dropped, when the stream or one attempt's subject is full; a result
// larger than any result is refused.
func TestEnsureBoundsResultsAndDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	for _, sc := range []jetstream.StreamConfig{
		{Name: streams.ResultsStream, Subjects: []string{"ejecta.results.>"}, Storage: jetstream.FileStorage},
		{Name: streams.DeadStream, Subjects: []string{"ejecta.dead.>"}, Storage: jetstream.FileStorage},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	k := streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	old, err := js.Publish(ctx, streams.ResultSubject(k, 1, streams.AnonymousSender), []byte("stored before the bounds"))
	if err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	config := func(name string) jetstream.StreamConfig {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config
	}
	if c := config(streams.ResultsStream); c.MaxBytes != streams.DefaultResultsMaxBytes || c.Discard != jetstream.DiscardNew ||
		c.MaxMsgsPerSubject != streams.ResultsMaxMsgsPerSubject || !c.DiscardNewPerSubject || c.MaxMsgSize != streams.MaxMessageBytes || c.MaxAge != 0 {
		t.Errorf("results stream: max bytes %d, discard %v, per subject %d (discard new %v), max msg size %d, max age %s",
			c.MaxBytes, c.Discard, c.MaxMsgsPerSubject, c.DiscardNewPerSubject, c.MaxMsgSize, c.MaxAge)
	}
	if c := config(streams.DeadStream); c.MaxBytes != streams.DeadMaxBytes || c.Discard != jetstream.DiscardOld ||
		c.MaxMsgsPerSubject != streams.DeadMaxPerExperiment || c.MaxAge != streams.DeadMaxAge {
		t.Errorf("dead stream: max bytes %d, discard %v, per subject %d, max age %s", c.MaxBytes, c.Discard, c.MaxMsgsPerSubject, c.MaxAge)
	}

	cfg := streams.DefaultConfig()
	cfg.ResultsMaxBytes = 1 << 20
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if c := config(streams.ResultsStream); c.MaxBytes != 1<<20 {
		t.Fatalf("results max bytes %d after Ensure with %d", c.MaxBytes, 1<<20)
	}
	if _, err := js.Publish(ctx, streams.ResultSubject(k, 2, streams.AnonymousSender), bytes.Repeat([]byte("x"), streams.MaxMessageBytes+1)); !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Errorf("over-size result: %v, want %v", err, jetstream.ErrStreamMessageExceedsMaximum)
	}
	subj := streams.ResultSubject(k, 3, streams.AnonymousSender)
	for i := range streams.ResultsMaxMsgsPerSubject {
		if _, err := js.Publish(ctx, subj, []byte{byte('0' + i)}); err != nil {
			t.Fatalf("result %d on one subject: %v", i+1, err)
		}
	}
	if _, err := js.Publish(ctx, subj, []byte("one too many")); err == nil || !strings.Contains(err.Error(), "maximum messages per subject exceeded") {
		t.Errorf("result %d on one subject: %v, want it refused", streams.ResultsMaxMsgsPerSubject+1, err)
	}
	var full error
	for a := 4; full == nil && a < 100; a++ {
		_, full = js.Publish(ctx, streams.ResultSubject(k, a, streams.AnonymousSender), bytes.Repeat([]byte("r"), 60<<10))
	}
	if full == nil || !strings.Contains(full.Error(), "maximum bytes exceeded") {
		t.Errorf("publishing past the results' max bytes: %v, want it refused", full)
	}
	s, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMsg(ctx, old.Sequence); err != nil || string(m.Data) != "stored before the bounds" {
		t.Errorf("the first result after the refusals: %v, want it kept", err)
	}
	if m, err := s.GetLastMsgForSubject(ctx, subj); err != nil || string(m.Data) != string(rune('0'+streams.ResultsMaxMsgsPerSubject-1)) {
		t.Errorf("last result on the full subject: %v, want the last one accepted", err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil || info.State.Subjects[subj] != streams.ResultsMaxMsgsPerSubject {
		t.Errorf("results on the full subject: %v, %v; want %d kept", info.State.Subjects, err, streams.ResultsMaxMsgsPerSubject)
	}
}
