package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// A stolen builder credential of one host fetches another host's job,
// reads its ticket and hands it back; the genuine builder builds it, and
// the thief then signs a later attempt that says otherwise. With a user
// per builder host the reporter tells the two senders apart and reports
// the build as disputed, never the thief's verdict; and the thief cannot
// publish under the genuine builder's name.
func TestStolenBuilderCredentialCannotOverruleAnotherBuilder(t *testing.T) {
	s := startAuthServer(t, nil, "host-a", "host-b")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.ensure(ctx, t)
	genuine := s.connect(t, streams.RoleBuilder, streams.Security{}) // builder-host-a
	other := *s
	other.builders = []string{"host-b"}
	thief := other.connect(t, streams.RoleBuilder, streams.Security{})

	key := s.jobKey(t, streams.RoleProducer)
	const exp = "stolen"
	if _, err := producer.New(s.connect(t, streams.RoleProducer, streams.Security{}).js, s.log, producer.WithJobKey(key)).Create(ctx, producer.Request{
		Name: exp, Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "cfg-if", CrateSource: testenv.CrateRegistry(t),
	}); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reporter.New(reporter.Config{Debounce: 200 * time.Millisecond, JobKey: key}, s.connect(t, streams.RoleReporter, streams.Security{}).nc, st, s.log)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rep.Run(ctx) }()

	fetch := func(c *roleClient, tc string) (jetstream.Msg, streams.Job) {
		t.Helper()
		cons, err := c.js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer(exp, tc))
		if err != nil {
			t.Fatal(err)
		}
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("fetch the %s job: %v", tc, err)
		}
		var job streams.Job
		if err := json.Unmarshal(m.Data(), &job); err != nil {
			t.Fatal(err)
		}
		return m, job
	}
	publish := func(c *roleClient, sender string, r streams.Result) error {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		defer pcancel()
		_, err = c.js.Publish(pctx, streams.ResultSubject(r.BuildKey, r.Attempt, sender), data)
		return err
	}
	result := func(job streams.Job, attempt int, status streams.Status, reason streams.Reason) streams.Result {
		r := streams.Result{V: streams.SchemaVersion, BuildKey: job.BuildKey, Attempt: attempt, Status: status, Reason: reason,
			Builder: "b", FinishedAt: time.Now().UTC()}
		r.Sign(job.Ticket)
		return r
	}

	// The thief takes the nightly job first, keeps its ticket and hands
	// it back.
	m, stolen := fetch(thief, "nightly")
	if err := m.Nak(); err != nil {
		t.Fatal(err)
	}
	// The genuine builder builds both sides: they pass.
	a := streams.BuilderUser("host-a")
	for _, tc := range []string{"stable", "nightly"} {
		m, job := fetch(genuine, tc)
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if err := publish(genuine, a, result(job, int(md.NumDelivered), streams.StatusTestPass, "")); err != nil {
			t.Fatalf("the genuine builder publishes its %s result: %v", tc, err)
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The thief cannot speak for host-a, and what it says as itself is a
	// dispute.
	forged := result(stolen, 9, streams.StatusBuildFail, streams.CompilerError("E0308"))
	if err := publish(thief, a, forged); err == nil {
		t.Error("builder-host-b published a result under builder-host-a's name")
	}
	if err := publish(thief, streams.BuilderUser("host-b"), forged); err != nil {
		t.Fatalf("the thief publishes as itself: %v", err)
	}

	var f results.File
	for {
		data, err := readObject(ctx, t, st, results.Key(exp))
		if err == nil {
			f = results.File{}
			err = json.Unmarshal([]byte(data), &f)
		}
		if err == nil && len(f.Crates) == 1 && len(f.Crates[0].Results) == 2 && f.Crates[0].Results[1].Attempt == 9 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("results.json never showed the forged attempt: %+v, %v", f, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := f.Crates[0]
	if c.Class != results.ClassError || c.Results[1].Status != streams.StatusError || c.Results[1].Reason != streams.ReasonDisputed {
		t.Errorf("cfg-if: class %q, nightly %s (%s); want an error, disputed, not the thief's regression", c.Class, c.Results[1].Status, c.Results[1].Reason)
	}
}
