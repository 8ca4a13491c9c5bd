package builder

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// ensureExperiment records job's experiment (if it is not yet) with its
// job consumers, as the producer does, so that builders take jobs
// published for it: its mode, cap-lints, crate source and limits are the
// job's (a builder refuses a job that disagrees with its experiment), and
// the job's toolchain is added to its toolchains if missing. Tests that
// publish jobs by hand call it through publishJob.
func ensureExperiment(t *testing.T, js jetstream.JetStream, job streams.Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	name, tc := job.Experiment, job.Toolchain
	exp := streams.Experiment{V: streams.SchemaVersion, Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: job.Mode, CapLints: job.CapLints, CrateSource: job.CrateSource, Limits: job.Limits,
		Crates: 1, Jobs: 2, CreatedAt: time.Now().UTC()}
	if e, err := kv.Get(ctx, name); err == nil {
		if err := json.Unmarshal(e.Value(), &exp); err != nil {
			t.Fatal(err)
		}
		if exp.Mode != job.Mode || exp.CapLints != job.CapLints || exp.CrateSource != job.CrateSource || exp.Limits != job.Limits {
			t.Fatalf("job %s disagrees with its experiment's record %+v: give it an experiment of its own", job.BuildKey, exp)
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatal(err)
	}
	if !slices.Contains(exp.Toolchains, tc) {
		exp.Toolchains = []string{exp.Toolchains[0], tc}
	}
	data, _ := json.Marshal(exp)
	if _, err := kv.Put(ctx, name, data); err != nil {
		t.Fatal(err)
	}
	if err := streams.EnsureJobsConsumers(ctx, js, &exp); err != nil {
		t.Fatal(err)
	}
}

// jobsConsumer is the consumer k's job waits on.
func jobsConsumer(t *testing.T, js jetstream.JetStream, k streams.BuildKey) jetstream.Consumer {
	t.Helper()
	cons, err := js.Consumer(context.Background(), streams.JobsStream, streams.JobsConsumer(k.Experiment, k.Toolchain))
	if err != nil {
		t.Fatal(err)
	}
	return cons
}
