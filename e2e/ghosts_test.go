package e2e

// Results of experiments that have no record ("ghost experiments"),
// published by a stolen builder credential on the very permissions `ejecta
// auth init` writes: the reporter refuses them once the record grace is
// over, holds only so many meanwhile, looks no record up per experiment,
// and keeps reporting genuine results on time.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ghostFarm is a server on the generated permissions with its streams, the
// job key, a store, and connections as admin, reporter and two builders:
// the genuine one and one whose credential was stolen.
type ghostFarm struct {
	t                           *testing.T
	s                           *authServer
	admin, rep, builder, stolen *roleClient
	key                         streams.JobKey
	st                          *store.File
	lookups                     atomic.Int64
}

func newGhostFarm(t *testing.T) *ghostFarm {
	t.Helper()
	s := startAuthServer(t, nil)
	f := &ghostFarm{t: t, s: s}
	f.admin = s.connect(t, streams.RoleAdmin, streams.Security{})
	f.rep = s.connect(t, streams.RoleReporter, streams.Security{})
	f.builder = s.connect(t, streams.RoleBuilder, streams.Security{})
	f.stolen = s.connect(t, streams.RoleBuilder, streams.Security{})
	if err := streams.Ensure(context.Background(), f.admin.js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if f.key = s.jobKey(t, streams.RoleProducer); f.key.IsZero() {
		t.Fatal("no job key in the producer's credentials")
	}
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	// Every lookup of one record, as the admin sees them pass.
	for _, subj := range []string{"$JS.API.DIRECT.GET.KV_" + streams.ExperimentsBucket + ".>",
		"$JS.API.STREAM.MSG.GET.KV_" + streams.ExperimentsBucket} {
		sub, err := f.admin.nc.Subscribe(subj, func(*nats.Msg) { f.lookups.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	return f
}

// record stores experiment name's record, with tickets, as the producer does.
func (f *ghostFarm) record(name string) {
	f.t.Helper()
	rec := streams.Experiment{V: 1, Name: name, Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/src", Crates: 1, Jobs: 2, CreatedAt: time.Now().UTC(), Tickets: true}
	data, _ := json.Marshal(rec)
	kv, err := f.admin.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		f.t.Fatal(err)
	}
}

// runReporter runs a reporter as the reporter role with the job key until
// the returned stop (or the test's end).
func (f *ghostFarm) runReporter(cfg reporter.Config) (stop func()) {
	f.t.Helper()
	cfg.JobKey = f.key
	rep, err := reporter.New(cfg, f.rep.nc, f.st, f.s.log.Level(zerolog.ErrorLevel))
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rep.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				f.t.Errorf("reporter: %v", err)
			}
		}
	}
	f.t.Cleanup(stop)
	return stop
}

// ghost is an unsigned result of experiment exp, which has no record.
func ghost(exp string) (string, []byte) {
	k := streams.BuildKey{Experiment: exp, Crate: "c", Version: "1.0.0", Toolchain: "nightly"}
	data, _ := json.Marshal(streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: streams.StatusTestPass, Builder: "b",
		FinishedAt: time.Now().UTC()})
	return streams.ResultSubject(k, 1, string(streams.RoleBuilder)), data
}

// publishGhosts publishes one ghost result for each of n experiments
// ghost-<prefix>-<i> as the stolen credential, as fast as the server
// takes them.
func (f *ghostFarm) publishGhosts(prefix string, n int) {
	f.t.Helper()
	for i := range n {
		subj, data := ghost(fmt.Sprintf("ghost-%s-%05d", prefix, i))
		if _, err := f.stolen.js.PublishAsync(subj, data); err != nil {
			f.t.Fatal(err)
		}
		if i%2000 == 1999 {
			<-f.stolen.js.PublishAsyncComplete()
		}
	}
	select {
	case <-f.stolen.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		f.t.Fatal("ghost results not acknowledged")
	}
}

// dead returns the dead letters' reasons by the subject of what they
// refused.
func (f *ghostFarm) dead() map[string]string {
	f.t.Helper()
	ctx := context.Background()
	s, err := f.admin.js.Stream(ctx, streams.DeadStream)
	if err != nil {
		f.t.Fatal(err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	pending := s.CachedInfo().State.Msgs
	for range pending {
		m, err := cons.Next()
		if err != nil {
			f.t.Fatal(err)
		}
		out[m.Headers().Get(streams.HdrDeadSubject)] = m.Headers().Get(streams.HdrDeadReason)
	}
	return out
}

// deadCount is how many dead letters there are.
func (f *ghostFarm) deadCount() int {
	f.t.Helper()
	s, err := f.admin.js.Stream(context.Background(), streams.DeadStream)
	if err != nil {
		f.t.Fatal(err)
	}
	return int(s.CachedInfo().State.Msgs)
}

func (f *ghostFarm) results(exp string) []byte {
	rc, err := f.st.Get(context.Background(), results.Key(exp))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// genuine publishes a signed result of crate in experiment exp as the
// genuine builder and returns how long it took to show in results.json.
func (f *ghostFarm) genuine(exp, crate string, within time.Duration) time.Duration {
	f.t.Helper()
	k := streams.BuildKey{Experiment: exp, Crate: crate, Version: "1.0.0", Toolchain: "nightly"}
	r := streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: streams.StatusTestPass, Builder: "b", FinishedAt: time.Now().UTC()}
	r.Sign(f.key.Ticket(k, 0))
	data, _ := json.Marshal(r)
	start := time.Now()
	if _, err := f.builder.js.Publish(context.Background(), streams.ResultSubject(k, 1, string(streams.RoleBuilder)), data); err != nil {
		f.t.Fatal(err)
	}
	for !bytes.Contains(f.results(exp), []byte(`"`+crate+`"`)) {
		if time.Since(start) > within {
			f.t.Fatalf("%s of %s not in results.json after %s", crate, exp, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// The reporter refuses, once the record grace is over, every result of an
// experiment without a record: the stolen credential's unsigned results on
// made-up names, and one on the name of an experiment deleted meanwhile
// (no record means its results must be signed). While they wait it looks
// no record up: the records come from one watch of the bucket.
func TestReporterRefusesResultsOfExperimentsWithoutARecord(t *testing.T) {
	f := newGhostFarm(t)
	const n = 1500
	f.record("gone")
	grace := 2 * time.Second
	f.runReporter(reporter.Config{Debounce: 100 * time.Millisecond, RecordGrace: grace})
	f.genuine("gone", "alpha", 30*time.Second)
	if _, err := producer.New(f.admin.js, f.s.log).Delete(context.Background(), "gone", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the reporter saw the deletion

	start := time.Now()
	f.publishGhosts("a", n)
	lateSubj, late := ghost("gone")
	if _, err := f.stolen.js.Publish(context.Background(), lateSubj, late); err != nil {
		t.Fatal(err)
	}
	l0 := f.lookups.Load()
	var dead map[string]string
	for {
		dead = f.dead()
		if len(dead) >= n+1 || time.Since(start) > grace+time.Minute {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d ghost results refused %s after the first was published; %d record lookups meanwhile",
		len(dead), time.Since(start).Round(time.Millisecond), f.lookups.Load()-l0)
	if len(dead) < n+1 {
		t.Fatalf("VULNERABLE: %d of %d results of experiments without a record refused within %s: the rest are held for ever",
			len(dead), n+1, grace+time.Minute)
	}
	if reason := dead[lateSubj]; !strings.Contains(reason, "no MAC") {
		t.Errorf("the unsigned result of the deleted experiment refused for %q, want it taken as ticketed (no MAC)", reason)
	}
	if reason := dead[streams.ResultSubject(streams.BuildKey{Experiment: "ghost-a-00007", Crate: "c", Version: "1.0.0", Toolchain: "nightly"}, 1, string(streams.RoleBuilder))]; !strings.Contains(reason, "record") {
		t.Errorf("a ghost result refused for %q, want the missing record named", reason)
	}
	if l := f.lookups.Load() - l0; l > 10 {
		t.Errorf("%d lookups of single records while %d ghost experiments waited: want them all from the watch", l, n)
	}
}

// A flood of unsigned results on made-up experiment names, the stolen
// credential's in seconds, neither stops the reporter nor delays a genuine
// result's report, while the results wait for their records nor while they
// are refused: before, 30,000 of them took the report lag from 153 ms to
// more than five minutes, and for good (every debounce the reporter looked
// up, one by one, the record of every experiment waiting for one).
func TestReporterLagWithGhostExperiments(t *testing.T) {
	f := newGhostFarm(t)
	const n = 30000
	grace := 20 * time.Second
	f.record("real")
	f.runReporter(reporter.Config{Debounce: time.Second, Confirmations: -1, RecordGrace: grace})
	before := f.genuine("real", "first", 30*time.Second)
	start := time.Now()
	f.publishGhosts("b", n)
	time.Sleep(5 * time.Second) // the reporter has read them
	held := f.genuine("real", "second", 5*time.Minute)
	// Then while those that waited are refused.
	var during time.Duration
	for i := 0; time.Since(start) < grace+time.Minute; i++ {
		time.Sleep(time.Second) // a debounce after the last write, as before
		lag := f.genuine("real", fmt.Sprintf("during-%d", i), 5*time.Minute)
		during = max(during, lag)
		if f.deadCount() >= n {
			break
		}
	}
	t.Logf("a genuine result to results.json: %s before, %s with %d ghost experiments waiting, at most %s while they were refused",
		before.Round(time.Millisecond), held.Round(time.Millisecond), n, during.Round(time.Millisecond))
	if dead := f.deadCount(); dead < n {
		t.Errorf("%d of %d ghost results refused %s after the first, want all", dead, n, time.Since(start).Round(time.Second))
	}
	for _, lag := range []time.Duration{held, during} {
		if lag > 10*before && lag > 5*time.Second {
			t.Errorf("VULNERABLE: %d unsigned results on made-up experiment names slow the report lag from %s to %s",
				n, before.Round(time.Millisecond), lag.Round(time.Millisecond))
		}
	}
}
