package logtail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

var build = streams.BuildKey{Experiment: "e1", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly"}

func setup(t *testing.T) (jetstream.JetStream, store.Store) {
	t.Helper()
	_, js := testenv.StartNATS(t).Connect(t)
	buildlogtest.Ensure(t, js)
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return js, st
}

// syncBuffer is written by Copy's goroutine and read by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCopyReadsWhatIsThere(t *testing.T) {
	js, st := setup(t)
	ctx := context.Background()
	r := logtail.New(js, st)
	live := buildlogtest.NewLog(t, js, build, 1)
	live.Write("\x1b[1mCompiling\x1b[0m cfg-if\n")
	live.Write("warning: unused\n")

	stored := buildlogtest.NewLog(t, js, build, 2)
	stored.Write("first line\n")
	stored.Write("second line\n")
	stored.End(streams.StatusTestPass)
	stored.StoreAndPurge(st)

	for _, tc := range []struct {
		name     string
		attempt  int
		from     uint64
		want     string
		complete bool
		stored   bool
	}{
		{"live from the first byte", 1, 0, live.String(), false, false},
		{"live from an offset inside a chunk", 1, 5, live.String()[5:], false, false},
		{"stored", 2, 0, stored.String(), true, true},
		{"stored from an offset", 2, 11, "second line\n", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := r.Copy(ctx, build, tc.attempt, &out, logtail.Options{From: tc.from})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("read %q, want %q", out.String(), tc.want)
			}
			if res.Complete != tc.complete || res.Stored != tc.stored || res.Offset != tc.from+uint64(len(tc.want)) {
				t.Errorf("result %+v", res)
			}
		})
	}

	_, err := r.Copy(ctx, build, 3, &bytes.Buffer{}, logtail.Options{})
	if !errors.Is(err, logtail.ErrNoLog) || !strings.Contains(err.Error(), "e1/cfg-if@1.0.0/nightly attempt 3") {
		t.Errorf("missing log: %v", err)
	}
	_, err = r.Copy(ctx, build, 2, &bytes.Buffer{}, logtail.Options{From: 1000})
	if err == nil || !strings.Contains(err.Error(), "fewer than offset 1000") {
		t.Errorf("offset past the end: %v", err)
	}
}

func TestCopyFollowsLiveLogToItsEnd(t *testing.T) {
	js, st := setup(t)
	log := buildlogtest.NewLog(t, js, build, 1)
	var out syncBuffer
	type done struct {
		res logtail.Result
		err error
	}
	ch := make(chan done, 1)
	go func() {
		res, err := logtail.New(js, st).Copy(context.Background(), build, 1, &out, logtail.Options{Follow: true})
		ch <- done{res, err}
	}()
	// The follower starts before the build: it waits for the first chunk.
	time.Sleep(100 * time.Millisecond)
	for i := range 5 {
		line := fmt.Sprintf("line %d\n", i)
		log.Write(line)
		waitFor(t, line, func() bool { return strings.HasSuffix(out.String(), line) })
	}
	end := log.End(streams.StatusBuildFail)
	d := <-ch
	if d.err != nil || !d.res.Complete || d.res.End == nil || d.res.End.SHA256 != end.SHA256 {
		t.Fatalf("Copy: %+v, %v", d.res, d.err)
	}
	if out.String() != log.String() {
		t.Fatalf("followed %q, want %q", out.String(), log.String())
	}
}

// A follower whose log is stored and purged underneath carries on from the
// store at the byte it had reached.
func TestCopySwitchesToTheStoreWhenTheLogLeavesTheStream(t *testing.T) {
	js, st := setup(t)
	log := buildlogtest.NewLog(t, js, build, 1)
	log.Write("before the purge\n")
	var out syncBuffer
	ch := make(chan error, 1)
	var res logtail.Result
	go func() {
		var err error
		res, err = logtail.New(js, st, logtail.WithPoll(200*time.Millisecond)).Copy(context.Background(), build, 1, &out, logtail.Options{Follow: true})
		ch <- err
	}()
	waitFor(t, "first chunk", func() bool { return out.String() == "before the purge\n" })
	// The rest of the log went to the store and its chunks were purged
	// before the follower read them (as when it lags): it must come from
	// the store.
	full := log.String() + "after\nthe end\n"
	key := logtail.StoredKey(build, 1)
	if err := st.Put(context.Background(), key, strings.NewReader(full), int64(len(full)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(context.Background(), streams.LogsStream)
	if err := s.Purge(context.Background(), jetstream.WithPurgeSubject(streams.LogSubject(build, 1))); err != nil {
		t.Fatal(err)
	}
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	if out.String() != full || !res.Complete || !res.Stored {
		t.Fatalf("read %q (%+v), want %q from the store", out.String(), res, full)
	}
}
