package builder

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
)

// A build that outlives the timeout is killed and reported; a build running
// when the builder stops is killed and left for redelivery, unacknowledged.
func TestBuilderTimeoutAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	ctx := context.Background()
	slow := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "stop", Crate: "ejecta-slow", Version: "0.1.0", Toolchain: "stable"},
		Mode: streams.ModeBuildOnly, CrateSource: testdataRegistry(t)}
	publishJob(t, js, slow)
	stop := startBuilder(t, nc, Config{ID: "stopper", Slots: 1, Timeout: 8 * time.Second, InProgressEvery: time.Second})

	results, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var r streams.Result
	nextJSON(t, results, time.Minute, &r)
	if r.Status != streams.StatusBuildFail || r.Reason != "timeout" {
		t.Errorf("result %s %q, want build-fail timeout", r.Status, r.Reason)
	}
	text := logText(t, js, slow.BuildKey, 1, streams.StatusBuildFail)
	if !strings.Contains(text, "Compiling ejecta-slow v0.1.0") || !strings.Contains(text, buildlog.SystemPrefix+"timed out after 8s") {
		t.Errorf("log lacks the build script's output or the timeout line:\n%s", text)
	}

	// Again, but stop the builder in the middle.
	slow.Experiment = "stop2"
	publishJob(t, js, slow)
	kv, err := js.KeyValue(ctx, streams.BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		chunks, _ := buildlogtest.Chunks(t, js, streams.LogSubject(slow.BuildKey, 1), time.Second)
		var b strings.Builder
		for _, c := range chunks {
			b.Write(c.Data)
		}
		if strings.Contains(ansi.ReplaceAllString(b.String(), ""), "Compiling ejecta-slow v0.1.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second build did not start within 30s")
		}
	}
	if e, err := kv.Get(ctx, streams.HeartbeatKey(streams.AnonymousSender, "stopper")); err != nil || !strings.Contains(string(e.Value()), `"crate":"ejecta-slow"`) {
		t.Errorf("heartbeat does not list the running build (%v)", err)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("builder stopped in %s", time.Since(start))

	cons := jobsConsumer(t, js, slow.BuildKey)
	// Nak'd, not acked: the job is handed out again at once, as attempt 2.
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("abandoned job not redelivered: %v", err)
	}
	if md, _ := m.Metadata(); md == nil || md.NumDelivered != 2 || !strings.Contains(string(m.Data()), `"stop2"`) {
		t.Errorf("redelivered %s with metadata %+v", m.Data(), md)
	}
	if _, end := buildlogtest.Chunks(t, js, streams.LogSubject(slow.BuildKey, 1), time.Second); end != nil {
		t.Errorf("abandoned attempt's log has an end marker %+v", end)
	}
	if m, err := results.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Errorf("abandoned attempt published a result: %s", m.Data())
	}
}
