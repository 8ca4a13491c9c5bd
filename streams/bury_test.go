package streams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// A message buried is on the dead stream with its stream sequence and
// never delivered again; one whose letter could not be published is left
// to be delivered again.
func TestBury(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	k := streams.BuildKey{Experiment: "e1", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	body := []byte(`{"experiment":"e1","garbage":true}`)
	if _, err := js.Publish(ctx, streams.UploadSubject(k, 1), body); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, streams.UploadsStream, streams.UploadersConsumer)
	if err != nil {
		t.Fatal(err)
	}
	next := func() jetstream.Msg {
		t.Helper()
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	publish := func(ctx context.Context, m *nats.Msg) error { _, err := js.PublishMsg(ctx, m); return err }

	log := zerolog.New(zerolog.NewTestWriter(t))
	msg := next()
	refused := func(context.Context, *nats.Msg) error { return errors.New("dead stream down") }
	if streams.Bury(ctx, msg, streams.UploadsStream, errors.New("not JSON"), "uploader", refused, log) {
		t.Fatal("Bury with a failing publish says the letter is stored")
	}
	msg.Nak()

	msg = next() // delivered again: it was not terminated
	if !streams.Bury(ctx, msg, streams.UploadsStream, errors.New("not JSON"), "uploader", publish, log) {
		t.Fatal("Bury failed")
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Error("a buried message was delivered again")
	}
	ds, err := js.Stream(ctx, streams.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ds.GetLastMsgForSubject(ctx, streams.DeadSubject("e1", "uploader"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != string(body) || got.Header.Get(streams.HdrDeadSeq) != "1" ||
		got.Header.Get(streams.HdrDeadReason) != "not JSON" || got.Header.Get(streams.HdrDeadSubject) != streams.UploadSubject(k, 1) {
		t.Errorf("dead letter %q with headers %v", got.Data, got.Header)
	}
}
