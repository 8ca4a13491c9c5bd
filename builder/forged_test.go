package builder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// deadLetters reads the n dead letters the dead stream should hold.
func deadLetters(t *testing.T, js jetstream.JetStream, n int) []jetstream.Msg {
	t.Helper()
	dead, err := js.OrderedConsumer(context.Background(), streams.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for range n {
		m, err := dead.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("dead letter %d of %d: %v", len(out)+1, n, err)
		}
		out = append(out, m)
	}
	return out
}

// A job whose body names another build than its subject (the subject
// chose the consumer; the body would decide what runs) is buried, never
// built, and the builder goes on with the next.
func TestBuilderBuriesJobsNotMatchingTheirSubject(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	good := fakeJob("good", streams.ModeCheckOnly)
	forge := func(mut func(*streams.Job)) string {
		j := good
		mut(&j)
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	forged := []string{
		forge(func(j *streams.Job) { j.Crate = "evil" }),
		forge(func(j *streams.Job) { j.Version = "6.6.6" }),
		forge(func(j *streams.Job) { j.Experiment = "other" }),
		// A toolchain directory no builder was started with.
		forge(func(j *streams.Job) { j.Toolchain = "/opt/evil" }),
	}
	res, js := runFake(t, r, Config{}, 1, func(js jetstream.JetStream) {
		ensureExperiment(t, js, good)
		for _, f := range forged {
			if _, err := js.Publish(context.Background(), streams.JobSubject(good.BuildKey), []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		publishJob(t, js, good)
	})
	if res[0].Crate != "good" || res[0].Status != streams.StatusTestPass {
		t.Errorf("result %+v, want the good job's", res[0])
	}
	for i, m := range deadLetters(t, js, len(forged)) {
		reason := m.Headers().Get(streams.HdrDeadReason)
		if string(m.Data()) != forged[i] || !strings.Contains(reason, "arrived on subject") {
			t.Errorf("dead letter %q (reason %q), want %q refused for its subject", m.Data(), reason, forged[i])
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The toolchain's rustc -vV, then the good job's steps.
	if len(r.tasks) != 3 || r.tasks[0].Args[len(r.tasks[0].Args)-1] != "-vV" {
		t.Errorf("%d tasks ran, want rustc -vV and the good job's generate-lockfile and check", len(r.tasks))
	}
}

// A job on its own subject whose body disagrees with its experiment's
// record (only the producer writes it) is buried: a publisher of jobs that
// is not the producer cannot point builds at another directory (a hidden
// one: the sandbox binds a crate source read-only over its cover), nor
// lift their limits, nor change what they run.
func TestBuilderBuriesJobsNotMatchingTheirExperiment(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	good := fakeJob("good", streams.ModeCheckOnly)
	var forged []string
	for _, mut := range []func(*streams.Job){
		func(j *streams.Job) { j.CrateSource = "/home" },
		func(j *streams.Job) { j.MemoryBytes = streams.MaxMemoryBytes; j.TmpBytes = streams.MaxTmpBytes },
		func(j *streams.Job) { j.Mode = streams.ModeBuildAndTest },
		func(j *streams.Job) { j.CapLints = "allow" },
	} {
		j := good
		mut(&j)
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		forged = append(forged, string(data))
	}
	res, js := runFake(t, r, Config{}, 1, func(js jetstream.JetStream) {
		ensureExperiment(t, js, good)
		for _, f := range forged {
			if _, err := js.Publish(context.Background(), streams.JobSubject(good.BuildKey), []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		publishJob(t, js, good)
	})
	if res[0].Crate != "good" || res[0].Status != streams.StatusTestPass {
		t.Errorf("result %+v, want the good job's", res[0])
	}
	for i, m := range deadLetters(t, js, len(forged)) {
		reason := m.Headers().Get(streams.HdrDeadReason)
		if string(m.Data()) != forged[i] || !strings.Contains(reason, "experiment fake has") {
			t.Errorf("dead letter %q (reason %q), want %q refused for its experiment", m.Data(), reason, forged[i])
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, task := range r.tasks {
		if slices.Contains(task.ReadOnlyDirs, "/home") || task.MemoryBytes != DefaultMemoryBytes {
			t.Errorf("a forged job ran: %+v", task)
		}
	}
}

// A job for a toolchain this builder does not offer is refused with a
// reason naming the toolchain, never run. Builders take only from the
// queues of toolchains they offer, so such a job reaches one only when the
// toolchain went away since it last looked (it keeps the list a while).
func TestBuilderRefusesToolchainItDoesNotOffer(t *testing.T) {
	rustup := t.TempDir()
	tcDir := filepath.Join(rustup, "toolchains", "stable-x86_64-unknown-linux-gnu")
	if err := os.MkdirAll(tcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	first, second := fakeJob("first", streams.ModeCheckOnly), fakeJob("second", streams.ModeCheckOnly)
	f := startFake(t, r, Config{RustupHome: rustup}, streams.DefaultConfig(), func(*Builder) {},
		func(js jetstream.JetStream) { ensureExperiment(t, js, first) })
	js, results := f.js, f.results
	publish := func(j streams.Job) {
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		// Not publishJob: rewriting the record would have the builder
		// look at its toolchains again.
		if _, err := js.Publish(context.Background(), streams.JobSubject(j.BuildKey), data); err != nil {
			t.Fatal(err)
		}
	}
	publish(first)
	var res streams.Result
	nextJSON(t, results, 10*time.Second, &res)
	if res.Crate != "first" {
		t.Fatalf("result %+v, want the first job's", res)
	}

	// The builder has seen stable installed; now it is gone.
	if err := os.RemoveAll(tcDir); err != nil {
		t.Fatal(err)
	}
	publish(second)
	m := deadLetters(t, js, 1)[0]
	if reason := m.Headers().Get(streams.HdrDeadReason); !strings.Contains(reason, `toolchain "stable"`) || !strings.Contains(reason, "offers") {
		t.Errorf("dead letter reason %q, want one naming the toolchain", reason)
	}
	if _, err := results.Next(jetstream.FetchMaxWait(500 * time.Millisecond)); err == nil {
		t.Error("the refused job has a result")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tasks) != 2 {
		t.Errorf("%d tasks ran, want only the first job's two", len(r.tasks))
	}
}
