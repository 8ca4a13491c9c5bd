package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/store/storetest"
	"github.com/ejecta-build/ejecta/streams"
)

// countingStore is the real file store, counting writes per key so tests
// can see debouncing.
type countingStore struct {
	*storetest.Counting
}

func newStore(t *testing.T) *countingStore {
	t.Helper()
	fs, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &countingStore{storetest.NewCounting(fs)}
}

// read returns the object at key, or nil if there is none.
func (s *countingStore) read(t *testing.T, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// env is a NATS server with ejecta's streams, and a store.
type env struct {
	t     *testing.T
	nats  *testenv.NATS
	nc    *nats.Conn
	js    jetstream.JetStream
	store *countingStore
}

func newEnv(t *testing.T) *env {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatalf("ensure: %v", err)
	}
	return &env{t: t, nats: n, nc: nc, js: js, store: newStore(t)}
}

const testDebounce = 50 * time.Millisecond

// startReporter runs a reporter until the returned stop is called (or the
// test ends) and fails the test if Run returns an error.
func (e *env) startReporter() (stop func()) {
	e.t.Helper()
	return e.startReporterWith(Config{Debounce: testDebounce})
}

// startReporterWith is startReporter with a configuration of its own.
func (e *env) startReporterWith(cfg Config) (stop func()) {
	e.t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.InfoLevel)
	r, err := New(cfg, e.nc, e.store, log)
	if err != nil {
		e.t.Fatalf("new reporter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("reporter run: %v", err)
				}
			case <-time.After(10 * time.Second):
				e.t.Errorf("reporter did not stop within 10s of cancel")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) putExperiment(name string, crates int) {
	e.t.Helper()
	rec := streams.Experiment{V: 1, Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
		Crates: crates, Jobs: 2 * crates, Published: 2 * crates, CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		e.t.Fatalf("put experiment: %v", err)
	}
}

// result is a Result of experiment exp with a log where builders put it.
func result(exp, crate, version, tc string, attempt int, status streams.Status, reason streams.Reason) streams.Result {
	k := streams.BuildKey{Experiment: exp, Crate: crate, Version: version, Toolchain: tc}
	return streams.Result{V: 1, BuildKey: k, Attempt: attempt, Status: status, Reason: reason,
		ExitCode: 101, DurationMS: 1234, Builder: "b1", LogKey: streams.LogObjectKey(k, attempt),
		FinishedAt: time.Now().UTC()}
}

// publish sends r as a builder does. msgID defaults to the subject; pass
// another to store a second copy of the same result.
// publish puts r on the results stream as its Sender would, anonymously
// if it has none.
func (e *env) publish(r streams.Result, msgID ...string) {
	e.t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		e.t.Fatal(err)
	}
	subj := streams.ResultSubject(r.BuildKey, r.Attempt, streams.ResultSender(r.Sender))
	e.publishRaw(subj, data, append(msgID, subj)[0])
}

func (e *env) publishRaw(subj string, data []byte, msgID string) {
	e.t.Helper()
	m := nats.NewMsg(subj)
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, msgID)
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatalf("publish %s: %v", subj, err)
	}
}

// readResults returns the experiment's results.json, or nil if there is none.
func (e *env) readResults(exp string) *results.File {
	e.t.Helper()
	data := e.store.read(e.t, results.Key(exp))
	if data == nil {
		return nil
	}
	var f results.File
	if err := json.Unmarshal(data, &f); err != nil {
		e.t.Fatalf("results.json: %v\n%s", err, data)
	}
	return &f
}

// waitResults waits until results.json reports done builds, and the rest
// of that write is stored: the progress entry, written last, says so too.
func (e *env) waitResults(exp string, done int) *results.File {
	e.t.Helper()
	var f *results.File
	waitFor(e.t, fmt.Sprintf("results.json of %s with %d done", exp, done), func() bool {
		f = e.readResults(exp)
		if f == nil || f.DoneJobs != done {
			return false
		}
		p, ok := e.tryProgress(exp)
		return ok && p.Done == done
	})
	return f
}

// tryProgress returns the progress entry of exp, if there is one.
func (e *env) tryProgress(exp string) (*streams.Progress, bool) {
	kv, err := e.js.KeyValue(context.Background(), streams.ProgressBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	entry, err := kv.Get(context.Background(), exp)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false
	}
	if err != nil {
		e.t.Fatalf("get progress %s: %v", exp, err)
	}
	var p streams.Progress
	if err := json.Unmarshal(entry.Value(), &p); err != nil {
		e.t.Fatal(err)
	}
	return &p, true
}

func (e *env) progress(exp string) *streams.Progress {
	e.t.Helper()
	kv, err := e.js.KeyValue(context.Background(), streams.ProgressBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	entry, err := kv.Get(context.Background(), exp)
	if err != nil {
		e.t.Fatalf("get progress %s: %v", exp, err)
	}
	var p streams.Progress
	if err := json.Unmarshal(entry.Value(), &p); err != nil {
		e.t.Fatal(err)
	}
	return &p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func crateByName(t *testing.T, f *results.File, name string) results.CrateResult {
	t.Helper()
	for _, c := range f.Crates {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("crate %s not in results.json", name)
	return results.CrateResult{}
}

func itoa(i int) string { return strconv.Itoa(i) }

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}
