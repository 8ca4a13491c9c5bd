package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// putRecord stores rec as the producer would.
func (e *env) putRecord(rec streams.Experiment) {
	e.t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), rec.Name, data); err != nil {
		e.t.Fatal(err)
	}
}

// deadReasons returns the reasons of the dead letters once there are n.
func (e *env) deadReasons(n int) []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(e.t, "dead letters", func() bool {
		s, err := e.js.Stream(ctx, streams.DeadStream)
		if err != nil {
			e.t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs >= uint64(n)
	})
	s, err := e.js.Stream(ctx, streams.DeadStream)
	if err != nil {
		e.t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != uint64(n) {
		e.t.Fatalf("%d dead letters, want %d", got, n)
	}
	var out []string
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m.Header.Get(streams.HdrDeadReason))
	}
	return out
}

// Results of an experiment whose jobs carry tickets count only when signed
// with the ticket of their build and run; forgeries go to the dead stream
// and leave the report alone, whether they come before the record is read
// or after. An experiment from before tickets takes unsigned results.
func TestResultsMustBeSignedForTicketedExperiments(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	e.putRecord(streams.Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
		Crates: 1, Jobs: 2, Published: 2, CreatedAt: time.Now().UTC(), Tickets: true})
	e.putExperiment("old", 1)
	signed := func(r streams.Result, ticket string) streams.Result {
		r.Sign(ticket)
		return r
	}
	stable := result("tix", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, "")
	nightly := result("tix", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "compiler-error(E0308)")
	other := streams.BuildKey{Experiment: "tix", Crate: "beta", Version: "1.0.0", Toolchain: "nightly"}
	// Published before the reporter starts: they arrive before it has
	// read the record.
	e.publish(signed(stable, key.Ticket(stable.BuildKey, 0)))
	e.publish(signed(nightly, key.Ticket(nightly.BuildKey, 0)))
	forged := []streams.Result{
		// Unsigned, at an attempt that would replace the genuine one.
		result("tix", "alpha", "1.0.0", "nightly", 999, streams.StatusTestPass, ""),
		// Signed with the ticket of a build its builder held.
		signed(result("tix", "alpha", "1.0.0", "nightly", 2, streams.StatusTestPass, ""), key.Ticket(other, 0)),
		// A first-run ticket passed off as the re-run's.
		signed(result("tix", "alpha", "1.0.0", "nightly", 1001, streams.StatusTestPass, ""), key.Ticket(nightly.BuildKey, 0)),
	}
	for _, f := range forged {
		e.publish(f)
	}
	e.publish(result("old", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("old", "alpha", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	e.startReporterWith(Config{Debounce: testDebounce, JobKey: key})

	f := e.waitResults("tix", 2)
	c := crateByName(t, f, "alpha")
	if c.Class != results.ClassRegressed || len(c.Results) != 2 || c.Results[1].Attempt != 1 || c.Results[1].Status != streams.StatusBuildFail {
		t.Errorf("alpha after the forgeries: class %q, results %+v; want the genuine regression", c.Class, c.Results)
	}
	if old := crateByName(t, e.waitResults("old", 2), "alpha"); old.Class != results.ClassSameTestPass {
		t.Errorf("experiment without tickets: alpha %q, want its unsigned results counted", old.Class)
	}
	reasons := e.deadReasons(len(forged))
	for _, want := range []string{"no MAC", "does not match", "does not match"} {
		found := false
		for i, r := range reasons {
			if strings.Contains(r, want) {
				reasons = append(reasons[:i], reasons[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no dead letter saying %q among %q", want, reasons)
		}
	}

	// The record is known now: a forgery is refused as it arrives.
	e.publish(result("tix", "alpha", "1.0.0", "nightly", 3, streams.StatusTestPass, ""))
	if r := e.deadReasons(len(forged) + 1); !strings.Contains(r[len(forged)], "no MAC") {
		t.Errorf("dead letter of the late forgery: %q", r[len(forged)])
	}
	time.Sleep(5 * testDebounce)
	if c := crateByName(t, e.readResults("tix"), "alpha"); c.Class != results.ClassRegressed || c.Results[1].Attempt != 1 {
		t.Errorf("alpha after the late forgery: %q, %+v", c.Class, c.Results)
	}

	// The regression's re-runs are queued with their own tickets.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jobs, err := e.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	var job streams.Job
	waitFor(t, "the re-run of alpha on nightly", func() bool {
		m, err := jobs.GetLastMsgForSubject(ctx, streams.RerunSubject(nightly.BuildKey))
		return err == nil && streams.Decode(m.Data, &job) == nil
	})
	if job.AttemptBase != streams.RerunAttemptBase(1) || job.Ticket != key.Ticket(nightly.BuildKey, job.AttemptBase) {
		t.Errorf("re-run job base %d ticket %q, want the first re-run's own ticket", job.AttemptBase, job.Ticket)
	}
	// Its genuine results count, although a forgery came first on the
	// nightly one's subject: builders put the MAC in the Nats-Msg-Id.
	for _, r := range []streams.Result{
		signed(result("tix", "alpha", "1.0.0", "nightly", 1001, streams.StatusBuildFail, "compiler-error(E0308)"), job.Ticket),
		signed(result("tix", "alpha", "1.0.0", "stable", 1001, streams.StatusTestPass, ""), key.Ticket(stable.BuildKey, 1000)),
	} {
		e.publish(r, streams.SignedMsgID(streams.ResultSubject(r.BuildKey, r.Attempt, streams.AnonymousSender), r.MAC))
	}
	waitFor(t, "the re-runs counted", func() bool {
		c := crateByName(t, e.readResults("tix"), "alpha")
		return c.Confirmation == results.ConfirmationConfirmed
	})
	if n := e.deadReasons(len(forged) + 1); len(n) != len(forged)+1 {
		t.Errorf("genuine re-run results dead-lettered: %q", n)
	}
}

// The results stream keeps a few results per attempt's subject and
// refuses more. Forgeries that fill an attempt's subject before its
// builder publishes are deleted once dead-lettered, so the genuine result
// is taken by the stream and counted.
func TestForgedResultsDoNotCrowdOutTheGenuineOne(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	e.putRecord(streams.Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeCheckOnly, CrateSource: "/src", Selection: "list",
		Crates: 1, Jobs: 2, Published: 2, CreatedAt: time.Now().UTC(), Tickets: true})
	stable := result("tix", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, "")
	nightly := result("tix", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "")
	subj := streams.ResultSubject(nightly.BuildKey, 1, streams.AnonymousSender)
	for i := range streams.ResultsMaxMsgsPerSubject {
		forged := nightly
		forged.Status = streams.StatusTestPass
		e.publish(forged, fmt.Sprintf("forged-%d", i))
	}
	e.startReporterWith(Config{Debounce: testDebounce, JobKey: key})
	e.deadReasons(streams.ResultsMaxMsgsPerSubject)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := e.js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forgeries deleted from the results stream", func() bool {
		_, err := rs.GetLastMsgForSubject(ctx, subj)
		return errors.Is(err, jetstream.ErrMsgNotFound)
	})
	for _, r := range []streams.Result{stable, nightly} {
		r.Sign(key.Ticket(r.BuildKey, 0))
		e.publish(r, streams.SignedMsgID(streams.ResultSubject(r.BuildKey, 1, streams.AnonymousSender), r.MAC))
	}
	c := crateByName(t, e.waitResults("tix", 2), "alpha")
	if c.Class != results.ClassRegressed {
		t.Errorf("alpha: %q, want the genuine regression", c.Class)
	}
}
