package streams_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// The sweep's consumer delivers the last message of each log, in stream
// order, with its payload, and nothing of the other streams.
func TestLastLogMessagesConsumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	a := streams.BuildKey{Experiment: "e", Crate: "a", Version: "1.0.0", Toolchain: "stable"}
	b := streams.BuildKey{Experiment: "e", Crate: "b", Version: "1.0.0", Toolchain: "stable"}
	for i, subj := range []string{
		streams.LogSubject(a, 1), streams.LogSubject(b, 1), streams.LogSubject(a, 1),
		streams.UploadSubject(a, 1), streams.LogSubject(a, 2), streams.LogSubject(b, 1),
	} {
		if _, err := js.Publish(ctx, subj, fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.CreateConsumer(ctx, streams.LogsStream, streams.LastLogMessagesConsumer())
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Subject()+"="+string(m.Data()))
	}
	want := []string{streams.LogSubject(a, 1) + "=2", streams.LogSubject(a, 2) + "=4", streams.LogSubject(b, 1) + "=5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}
