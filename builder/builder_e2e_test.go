package builder

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// testdataRegistry is a directory source with crates made for these tests
// (one that does not compile, one whose test fails, ...).
func testdataRegistry(t *testing.T) string {
	dir, err := filepath.Abs("testdata/registry")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBuilder runs a builder over real containerd until the test ends.
func startBuilder(t *testing.T, nc *nats.Conn, cfg Config) (stop func() error) {
	t.Helper()
	return startBuilderWith(t, nc, cfg, nil)
}

// errBuilderHung: the builder did not stop in time.
var errBuilderHung = errors.New("builder did not stop within 30s")

// startBuilderWith is startBuilder with the real sandbox passed through
// wrap (nil: used as it is).
func startBuilderWith(t *testing.T, nc *nats.Conn, cfg Config, wrap func(*sandbox.Containerd) Runner) (stop func() error) {
	t.Helper()
	addr := testenv.StartContainerd(t)
	ctx, cancel := context.WithCancel(context.Background())
	sb, err := sandbox.New(ctx, sandbox.Config{
		Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: filepath.Join(testenv.DurableTempDir(t), "fifo"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	if cfg.WorkDir == "" {
		cfg.WorkDir = testenv.DurableTempDir(t) // not under /tmp: the sandbox has its own /tmp
	}
	var run Runner = sb
	if wrap != nil {
		run = wrap(sb)
	}
	b, err := New(cfg, nc, run, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	// Once: a test may stop the builder itself before its cleanup does.
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errBuilderHung
		}
	})
	t.Cleanup(func() {
		if err := stop(); errors.Is(err, errBuilderHung) {
			t.Error(err)
		}
	})
	return stop
}

func publishJob(t *testing.T, js jetstream.JetStream, job streams.Job) {
	t.Helper()
	ensureExperiment(t, js, job)
	data, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), streams.JobSubject(job.BuildKey), data); err != nil {
		t.Fatal(err)
	}
}

// nextJSON waits for the next message of cons and decodes it into v.
func nextJSON[T interface{ Validate() error }](t *testing.T, cons jetstream.Consumer, wait time.Duration, v T) jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("no message within %s: %v", wait, err)
	}
	if err := streams.Decode(m.Data(), v); err != nil {
		t.Fatalf("decode %s: %v", m.Subject(), err)
	}
	return m
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// logText reads an attempt's whole log, checks its framing against the end
// marker and returns it without colours.
func logText(t *testing.T, js jetstream.JetStream, key streams.BuildKey, attempt int, want streams.Status) string {
	t.Helper()
	chunks, end := buildlogtest.Chunks(t, js, streams.LogSubject(key, attempt), 5*time.Second)
	if end == nil {
		t.Fatalf("log of %s: no end marker after %d chunks", key, len(chunks))
	}
	all := buildlogtest.Sequence(t, chunks)
	sum := buildlogtest.SHA256(all)
	if end.SHA256 != sum || end.Bytes != uint64(len(all)) || end.Chunks != uint64(len(chunks)) || end.Status != want {
		t.Errorf("log of %s: end marker %+v, log has %d chunks, %d bytes, sha256 %s", key, end, len(chunks), len(all), sum)
	}
	return ansi.ReplaceAllString(string(all), "")
}

func TestBuilderEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	ctx := context.Background()
	reg := testdataRegistry(t)

	pass := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "e2e", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: testenv.DebianRegistry}
	missing := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "e2e", Crate: "no-such-crate", Version: "1.0.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: testenv.DebianRegistry}
	// Jobs of other settings are of experiments of their own, as the
	// producer makes them.
	typeErr := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "e2e-capped", Crate: "ejecta-typeerr", Version: "0.1.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: reg, CapLints: "warn"}
	testFail := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "e2e-tests", Crate: "ejecta-testfail", Version: "0.1.0", Toolchain: "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: reg}

	publishJob(t, js, pass)
	// Poison between good jobs: the builder must bury it and go on.
	if _, err := js.Publish(ctx, streams.JobSubject(streams.BuildKey{Experiment: "e2e", Crate: "x", Version: "1.0.0", Toolchain: "stable"}),
		[]byte(`{"v":1,"experiment":"e2e","crate":"../../etc"}`)); err != nil {
		t.Fatal(err)
	}
	publishJob(t, js, missing)
	publishJob(t, js, typeErr)
	publishJob(t, js, testFail)

	stop := startBuilder(t, nc, Config{ID: "e2e-builder", Slots: 1, Timeout: 5 * time.Minute,
		InProgressEvery: time.Second, HeartbeatEvery: 500 * time.Millisecond})

	results, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]streams.Result{}
	for range 4 {
		var r streams.Result
		nextJSON(t, results, 3*time.Minute, &r)
		t.Logf("result %s: %s %s in %dms", r.BuildKey, r.Status, r.Reason, r.DurationMS)
		got[r.Crate] = r
	}

	t.Run("pass", func(t *testing.T) {
		r := got["cfg-if"]
		if r.Status != streams.StatusTestPass || r.Attempt != 1 || r.Builder != "e2e-builder" ||
			r.LogKey != streams.LogObjectKey(pass.BuildKey, 1) || r.DurationMS <= 0 || r.FinishedAt.IsZero() {
			t.Errorf("result %+v", r)
		}
		text := logText(t, js, pass.BuildKey, 1, streams.StatusTestPass)
		if !strings.Contains(text, "Checking cfg-if v1.0.0") {
			t.Errorf("log lacks cargo's Checking line:\n%s", text)
		}
		if first, _, _ := strings.Cut(text, "\n"); !strings.HasPrefix(first, buildlog.SystemPrefix+"toolchain stable (rustc 1.") {
			t.Errorf("first log line %q does not record the toolchain", first)
		}
		if !strings.Contains(text, buildlog.SystemPrefix+"$ cargo +stable check --frozen\n") {
			t.Errorf("log lacks the system line for the check step:\n%s", text)
		}
	})
	t.Run("broken", func(t *testing.T) {
		if r := got["no-such-crate"]; r.Status != streams.StatusBroken {
			t.Errorf("result %+v, want broken", r)
		}
		text := logText(t, js, missing.BuildKey, 1, streams.StatusBroken)
		if !strings.Contains(text, "no matching package named `no-such-crate` found") {
			t.Errorf("log lacks cargo's resolution error:\n%s", text)
		}
	})
	t.Run("build-fail", func(t *testing.T) {
		if r := got["ejecta-typeerr"]; r.Status != streams.StatusBuildFail || r.Reason != "compiler-error(E0308)" || r.ExitCode != 101 {
			t.Errorf("result %+v, want build-fail compiler-error(E0308) exit 101", r)
		}
		text := logText(t, js, typeErr.BuildKey, 1, streams.StatusBuildFail)
		if !strings.Contains(text, "error[E0308]: mismatched types") || !strings.Contains(text, "lints capped at warn") {
			t.Errorf("log lacks the compiler error or the cap-lints line:\n%s", text)
		}
	})
	t.Run("test-fail", func(t *testing.T) {
		if r := got["ejecta-testfail"]; r.Status != streams.StatusTestFail {
			t.Errorf("result %+v, want test-fail", r)
		}
		text := logText(t, js, testFail.BuildKey, 1, streams.StatusTestFail)
		if !strings.Contains(text, "arithmetic is not what this test thinks") || !strings.Contains(text, "$ cargo +nightly test --frozen") {
			t.Errorf("log lacks the failing test's message:\n%s", text)
		}
	})
	t.Run("upload request", func(t *testing.T) {
		// A work-queue stream admits no second consumer: read the message directly.
		uploads, err := js.Stream(ctx, streams.UploadsStream)
		if err != nil {
			t.Fatal(err)
		}
		m, err := uploads.GetLastMsgForSubject(ctx, streams.UploadSubject(pass.BuildKey, 1))
		if err != nil {
			t.Fatal(err)
		}
		var up streams.UploadRequest
		if err := streams.Decode(m.Data, &up); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(nats.MsgIdHdr) != m.Subject {
			t.Errorf("upload request Nats-Msg-Id %q, want its subject", m.Header.Get(nats.MsgIdHdr))
		}
		if up.BuildKey != pass.BuildKey || up.Attempt != 1 || up.End.Status != streams.StatusTestPass || up.End.SHA256 == "" {
			t.Errorf("upload request %+v", up)
		}
	})
	t.Run("dead letter", func(t *testing.T) {
		dead, err := js.OrderedConsumer(ctx, streams.DeadStream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := dead.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject() != streams.DeadSubject("e2e", streams.AnonymousSender) || !strings.Contains(m.Headers().Get(streams.HdrDeadReason), "crate name") {
			t.Errorf("dead letter on %s, reason %q", m.Subject(), m.Headers().Get(streams.HdrDeadReason))
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		kv, err := js.KeyValue(ctx, streams.BuildersBucket)
		if err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, streams.HeartbeatKey(streams.AnonymousSender, "e2e-builder"))
		if err != nil {
			t.Fatal(err)
		}
		var hb streams.Heartbeat
		if err := json.Unmarshal(e.Value(), &hb); err != nil || hb.Slots != 1 || len(hb.Toolchains) == 0 {
			t.Errorf("heartbeat %s (%v)", e.Value(), err)
		}
	})

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	jobs, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := jobs.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("jobs stream holds %d messages after the run (%v)", info.State.Msgs, err)
	}
	kv, _ := js.KeyValue(ctx, streams.BuildersBucket)
	if _, err := kv.Get(ctx, streams.HeartbeatKey(streams.AnonymousSender, "e2e-builder")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("heartbeat still there after shutdown: %v", err)
	}
}
