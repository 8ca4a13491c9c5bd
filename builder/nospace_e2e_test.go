package builder

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// A build that fills its size-capped /tmp fails with ENOSPC and the result
// says no-space; the experiment's own /tmp size overrides the builder's.
func TestBuilderTmpFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	job := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "tmpfull", Crate: "ejecta-tmpfull", Version: "0.1.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: testdataRegistry(t), Limits: streams.Limits{TmpBytes: 4 << 20}}
	publishJob(t, js, job)
	startBuilder(t, nc, Config{ID: "tmpfull", Slots: 1, TmpBytes: 256 << 20})

	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var r streams.Result
	nextJSON(t, results, 3*time.Minute, &r)
	if r.Status != streams.StatusBuildFail || r.Reason != "no-space" {
		t.Errorf("result %s %q (exit %d), want build-fail no-space", r.Status, r.Reason, r.ExitCode)
	}
	text := logText(t, js, job.BuildKey, 1, streams.StatusBuildFail)
	for _, want := range []string{
		buildlog.SystemPrefix + "sandbox: ", ", /tmp 4 MiB;",
		"to /tmp/ejecta-fill: No space left on device (os error 28)",
		buildlog.SystemPrefix + "finished: build-fail (no-space)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
}
