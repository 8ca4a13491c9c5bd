package producer_test

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// A producer with the job key records its experiments as carrying tickets
// and gives every job it queues (first runs, retries, re-runs) the ticket
// of its build and run. Without the key it may not queue jobs of such an
// experiment: their results would all be refused.
func TestJobsCarryTickets(t *testing.T) {
	ctx, js, plain := setup(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	p := producer.New(js, zerolog.Nop(), producer.WithJobKey(key))
	src := fakeRegistry(t, "a@1.0.0")
	req := producer.Request{Name: "tix", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a", CrateSource: src, NoToolchainCheck: true}
	out, err := p.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Experiment.Tickets {
		t.Error("experiment created with the key is not recorded as carrying tickets")
	}
	check := func(what string, want int) {
		t.Helper()
		got := jobs(ctx, t, js)
		if len(got) != want {
			t.Fatalf("%s: %d jobs queued, want %d", what, len(got), want)
		}
		for _, j := range got {
			if j.Ticket == "" || j.Ticket != key.Ticket(j.BuildKey, j.AttemptBase) {
				t.Errorf("%s: job %s (base %d) has ticket %q, want its own", what, j.BuildKey, j.AttemptBase, j.Ticket)
			}
		}
	}
	check("create", 2)
	if _, err := p.Retry(ctx, "tix", []producer.Crate{{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	check("retry", 4)
	rec := out.Experiment
	k := streams.BuildKey{Experiment: "tix", Crate: "a", Version: "1.0.0", Toolchain: "stable"}
	if _, err := producer.RetryRerun(ctx, js, key, &rec, k, 1, 1); err != nil {
		t.Fatal(err)
	}
	check("re-run", 5)

	// Without the key: refused, naming what is missing.
	for what, err := range map[string]error{
		"create again": func() error { _, err := plain.Create(ctx, req); return err }(),
		"retry":        func() error { _, err := plain.Retry(ctx, "tix", []producer.Crate{{Name: "a"}}); return err }(),
		"re-run":       func() error { _, err := producer.Rerun(ctx, js, streams.JobKey{}, &rec, k, 2); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "EJECTA_JOB_KEY") {
			t.Errorf("%s without the key: %v, want a refusal naming EJECTA_JOB_KEY", what, err)
		}
	}
	check("after the refusals", 5)

	// An experiment created without the key carries none, and a producer
	// with the key resuming it gives its jobs tickets all the same.
	old, err := plain.Create(ctx, producer.Request{Name: "old", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a", CrateSource: src, NoToolchainCheck: true})
	if err != nil || old.Experiment.Tickets {
		t.Fatalf("create without the key: %+v, %v; want no tickets", old.Experiment, err)
	}
	again, err := p.Create(ctx, producer.Request{Name: "old", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a", CrateSource: src, NoToolchainCheck: true})
	if err != nil || !again.Existed || again.Experiment.Tickets {
		t.Errorf("create again with the key: %+v, %v; want the same experiment, still without tickets", again, err)
	}
}
