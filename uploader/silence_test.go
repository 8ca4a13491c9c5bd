package uploader

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

func TestSilenceAllowed(t *testing.T) {
	for _, c := range []struct {
		abandonAfter, noOutput, want time.Duration
	}{
		{30 * time.Minute, 0, 30 * time.Minute},                              // the builders' default: AbandonAfter covers it
		{30 * time.Minute, 5 * time.Minute, 30 * time.Minute},                // 2×5m+5m is less
		{30 * time.Minute, time.Hour, 2*time.Hour + abandonMargin},           // a patient experiment
		{30 * time.Minute, streams.MaxTimeout, 48*time.Hour + abandonMargin}, // the most one may ask
		{time.Second, time.Second, 2*time.Second + abandonMargin},
	} {
		if got := silenceAllowed(c.abandonAfter, c.noOutput); got != c.want {
			t.Errorf("silenceAllowed(%s, %s) = %s, want %s", c.abandonAfter, c.noOutput, got, c.want)
		}
	}
}

// recordExperiment puts an experiment record with no-output timeout
// noOutput (0: none) into the experiments bucket, as the producer does.
func (e *env) recordExperiment(name string, noOutput time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	exp := streams.Experiment{V: streams.SchemaVersion, Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeCheckOnly, CrateSource: "/", Selection: "demo", Crates: 1, Jobs: 2, CreatedAt: time.Now().UTC(),
		Limits: streams.Limits{NoOutputTimeout: streams.Duration(noOutput)}}
	if err := exp.Validate(); err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	data, _ := json.Marshal(exp)
	if _, err := kv.Put(ctx, name, data); err != nil {
		e.t.Fatal(err)
	}
}

// A log silent for longer than AbandonAfter is left alone while its
// experiment lets a live build be silent that long; the logs of an
// experiment without its own no-output timeout, or without a record, are
// abandoned after AbandonAfter.
func TestSilenceWithinNoOutputTimeoutIsNotAbandoned(t *testing.T) {
	e := newEnv(t)
	patient := buildKey("patient", "slow")    // no-output timeout 1h
	plain := buildKey("plain", "slow")        // a record without one
	unrecorded := buildKey("deleted", "slow") // no record
	e.recordExperiment(patient.Experiment, time.Hour)
	e.recordExperiment(plain.Experiment, 0)
	data := randomBytes(30_000, 7)
	for _, k := range []streams.BuildKey{patient, plain, unrecorded} {
		e.publishChunks(k, 1, chunks(data, 10_000))
	}
	cfg := fastConfig("u")
	cfg.SweepInterval = 200 * time.Millisecond
	cfg.AbandonAfter = time.Second
	e.run(cfg, e.st)

	for _, k := range []streams.BuildKey{plain, unrecorded} {
		eventually(t, 10*time.Second, k.Experiment+"'s log stored as abandoned", func() bool {
			_, ok := object(t, e.st, k, 1)
			return ok && e.logMsgs(k, 1) == 0
		})
		if s := storedLog(t, e.st, k, 1); !s.meta.Abandoned || !strings.Contains(s.meta.AbandonedReason, "no output for") {
			t.Errorf("%s: abandoned %v (%q), want abandoned for silence", k.Experiment, s.meta.Abandoned, s.meta.AbandonedReason)
		}
	}
	// Several sweeps more, well past AbandonAfter.
	time.Sleep(2 * time.Second)
	if _, ok := object(t, e.st, patient, 1); ok || e.logMsgs(patient, 1) != 3 {
		t.Errorf("a log silent for %s, within its experiment's no-output timeout of 1h, was judged abandoned", 3*time.Second)
	}
}
