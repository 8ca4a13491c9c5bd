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

// ensureExperiment records experiment name (if it is not yet) with its job
// consumers, as the producer does, so that builders take jobs published
// for it; tc is added to its toolchains if missing. Tests that publish
// jobs by hand call it through publishJob.
func ensureExperiment(t *testing.T, js jetstream.JetStream, name, tc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	exp := streams.Experiment{V: streams.SchemaVersion, Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeCheckOnly, CrateSource: "/", Crates: 1, Jobs: 2, CreatedAt: time.Now().UTC()}
	if e, err := kv.Get(ctx, name); err == nil {
		if err := json.Unmarshal(e.Value(), &exp); err != nil {
			t.Fatal(err)
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
