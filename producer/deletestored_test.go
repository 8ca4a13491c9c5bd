package producer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// TestDeleteStoredRemovesLateWrites stores a report file while the
// experiment's objects are being deleted, as a reporter's write in flight
// when the record went does: it is gone too, and another experiment's
// objects stay.
func TestDeleteStoredRemovesLateWrites(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		if err := st.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"); err != nil {
			t.Error(err)
		}
	}
	for _, k := range []string{"index.html", "results.json", "logs/stable/a/1%2E0%2E0/1.log.zst"} {
		put(streams.ExperimentPrefix("gone") + k)
	}
	put(streams.ExperimentPrefix("kept") + "index.html")
	late := make(chan struct{})
	go func() {
		defer close(late)
		time.Sleep(300 * time.Millisecond)
		put(streams.ExperimentPrefix("gone") + "full.html")
	}()
	n, err := producer.DeleteStored(ctx, st, "gone")
	<-late
	if err != nil || n != 4 {
		t.Errorf("DeleteStored: %d objects, %v; want 4", n, err)
	}
	for o, err := range st.List(ctx, streams.ExperimentPrefix("gone")) {
		t.Errorf("left after delete: %s %v", o.Key, err)
	}
	rc, err := st.Get(ctx, streams.ExperimentPrefix("kept")+"index.html")
	if err != nil {
		t.Fatalf("another experiment's object: %v", err)
	}
	rc.Close()
}
