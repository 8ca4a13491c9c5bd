package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// fakeRunner plays cargo: step decides each task's output and exit by its
// cargo subcommand (Args[2], after the cargo path and +toolchain).
type fakeRunner struct {
	mu    sync.Mutex
	tasks []sandbox.Task
	owns  func(string) bool // of the last Cleanup
	step  func(ctx context.Context, sub string, t sandbox.Task) (sandbox.Exit, error)
}

func (f *fakeRunner) Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error) {
	f.mu.Lock()
	f.tasks = append(f.tasks, t)
	f.mu.Unlock()
	if len(t.Args) < 3 {
		return f.step(ctx, "", t)
	}
	return f.step(ctx, t.Args[2], t)
}

func (f *fakeRunner) Cleanup(_ context.Context, owns func(string) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owns = owns
	return nil
}

// runFake runs a one-slot builder with r over a fresh server until n
// results have arrived, and returns them in order.
func runFake(t *testing.T, r Runner, cfg Config, n int, publish func(js jetstream.JetStream)) ([]streams.Result, jetstream.JetStream) {
	t.Helper()
	return runFakeWith(t, r, cfg, streams.DefaultConfig(), func(*Builder) {}, n, publish)
}

// runFakeWith is runFake over streams made with scfg, with the builder
// changed by set before it runs.
func runFakeWith(t *testing.T, r Runner, cfg Config, scfg streams.Config, set func(*Builder), n int, publish func(js jetstream.JetStream)) ([]streams.Result, jetstream.JetStream) {
	t.Helper()
	f := startFake(t, r, cfg, scfg, set, publish)
	defer f.stop()
	return f.next(t, n), f.js
}

// fakeBuilder is a one-slot builder with a fake runner over a fresh
// server, and the results it publishes.
type fakeBuilder struct {
	js      jetstream.JetStream
	results jetstream.Consumer
	// stop stops the builder and waits for Run to return; again, it
	// does nothing. The test's end calls it too.
	stop func()
}

// startFake starts a fakeBuilder with r, cfg (its ID, work dir and
// slots filled in) and streams made with scfg, after publish has put what
// it wants on the server, and set has changed the builder.
func startFake(t *testing.T, r Runner, cfg Config, scfg streams.Config, set func(*Builder), publish func(js jetstream.JetStream)) *fakeBuilder {
	t.Helper()
	nc, js := startJetStream(t, scfg)
	publish(js)
	if cfg.ID == "" {
		cfg.ID = "fake"
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	cfg.Slots = 1
	b, err := New(cfg, nc, r, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	set(b)
	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return &fakeBuilder{js: js, results: results, stop: stop}
}

// next returns the builder's next n results, in order.
func (f *fakeBuilder) next(t *testing.T, n int) []streams.Result {
	t.Helper()
	var out []streams.Result
	for range n {
		var r streams.Result
		nextJSON(t, f.results, 30*time.Second, &r)
		out = append(out, r)
	}
	return out
}

func fakeJob(crate string, mode streams.Mode) streams.Job {
	return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "fake", Crate: crate, Version: "1.0.0", Toolchain: "stable"},
		Mode: mode, CrateSource: "/usr/share"} // a directory builds can read; the fake cargo ignores it
}

// The mapping from what the sandbox reports to crater's results.
func TestBuilderVerdicts(t *testing.T) {
	oom := sandbox.Exit{Code: 137, OOMKilled: true}
	for _, tc := range []struct {
		name       string
		mode       streams.Mode
		steps      map[string]func(ctx context.Context, t sandbox.Task) (sandbox.Exit, error)
		timeout    time.Duration
		wantStatus streams.Status
		wantReason streams.Reason
		// wantAttempt is the attempt whose result counts (0: the first).
		wantAttempt int
	}{
		{name: "check pass", mode: streams.ModeCheckOnly, wantStatus: streams.StatusTestPass},
		{name: "build-only pass", mode: streams.ModeBuildOnly, wantStatus: streams.StatusTestSkipped},
		{name: "unresolvable", mode: streams.ModeCheckOnly, wantStatus: streams.StatusBroken,
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"generate-lockfile": exitWith(101, "error: no matching package named `x` found\n")}},
		{name: "oom", mode: streams.ModeBuildOnly, wantStatus: streams.StatusBuildFail, wantReason: "oom",
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"build": func(context.Context, sandbox.Task) (sandbox.Exit, error) { return oom, nil }}},
		{name: "oom in prepare", mode: streams.ModeBuildOnly, wantStatus: streams.StatusPrepareFail, wantReason: "oom",
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"generate-lockfile": func(context.Context, sandbox.Task) (sandbox.Exit, error) { return oom, nil }}},
		// A sandbox that keeps failing: the job is handed back twice, and
		// its last attempt reports the error.
		{name: "sandbox error", mode: streams.ModeCheckOnly, wantStatus: streams.StatusError, wantReason: "sandbox-error", wantAttempt: 3,
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"check": func(context.Context, sandbox.Task) (sandbox.Exit, error) {
				return sandbox.Exit{}, errors.New("ttrpc: closed")
			}}},
		// containerd restarted under the first attempt: the second builds.
		{name: "sandbox error once", mode: streams.ModeCheckOnly, wantStatus: streams.StatusTestPass, wantAttempt: 2,
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"check": failFirst(errors.New("connection error: desc = transport is closing"))}},
		{name: "toolchain missing", mode: streams.ModeCheckOnly, wantStatus: streams.StatusError, wantReason: "toolchain-missing",
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"generate-lockfile": exitWith(1, "error: toolchain 'stable' is not installed\n")}},
		{name: "timeout", mode: streams.ModeCheckOnly, timeout: time.Second, wantStatus: streams.StatusBuildFail, wantReason: "timeout",
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"check": func(ctx context.Context, _ sandbox.Task) (sandbox.Exit, error) {
				<-ctx.Done()
				return sandbox.Exit{Code: 137}, fmt.Errorf("sandbox: killed: %w", ctx.Err())
			}}},
		{name: "depends-on", mode: streams.ModeBuildAndTest, wantStatus: streams.StatusBuildFail, wantReason: "depends-on(other)",
			// The build step prints cargo's JSON messages on stdout: the
			// error is the dependency's.
			steps: map[string]func(context.Context, sandbox.Task) (sandbox.Exit, error){"build": func(_ context.Context, t sandbox.Task) (sandbox.Exit, error) {
				t.Stdout.Write([]byte(`{"reason":"compiler-message","package_id":"registry+https://github.com/rust-lang/crates.io-index#other@1.0.0",` +
					`"message":{"message":"mismatched types","code":{"code":"E0308"},"level":"error","spans":[],"rendered":"error[E0308]: mismatched types\n"}}` + "\n"))
				t.Stderr.Write([]byte("error: could not compile `other` (lib) due to 1 previous error\n"))
				return sandbox.Exit{Code: 101}, nil
			}}},
		// The crate source does not exist, so there is no crate to test.
		{name: "tests skipped", mode: streams.ModeBuildAndTest, wantStatus: streams.StatusTestSkipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRunner{step: func(ctx context.Context, sub string, task sandbox.Task) (sandbox.Exit, error) {
				if f := tc.steps[sub]; f != nil {
					return f(ctx, task)
				}
				return sandbox.Exit{}, nil
			}}
			job := fakeJob("crate", tc.mode)
			res, js := runFake(t, r, Config{Timeout: tc.timeout, SandboxRetryDelay: 100 * time.Millisecond}, 1,
				func(js jetstream.JetStream) { publishJob(t, js, job) })
			if res[0].Status != tc.wantStatus || res[0].Reason != tc.wantReason {
				t.Errorf("result %s %q, want %s %q", res[0].Status, res[0].Reason, tc.wantStatus, tc.wantReason)
			}
			if want := max(tc.wantAttempt, 1); res[0].Attempt != want {
				t.Errorf("result of attempt %d, want %d", res[0].Attempt, want)
			}
			// Each attempt handed back has a complete log saying so, and
			// no result of its own.
			for a := 1; a < res[0].Attempt; a++ {
				text := logText(t, js, job.BuildKey, a, streams.StatusError)
				if !strings.Contains(text, buildlog.SystemPrefix+"finished: error (sandbox-error)") ||
					!strings.Contains(text, "no result: the job is handed back to be built again") {
					t.Errorf("log of attempt %d does not say it was handed back:\n%s", a, text)
				}
			}
		})
	}
}

// What every task is given: environment, limits, IDs, the job dir.
func TestBuilderTasks(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	work := t.TempDir()
	// A job dir a crashed builder of the same ID left, and one of another builder.
	for _, d := range []string{"fake-0-3-0123abcd", "fake-x-0-3-0123abcd"} {
		os.MkdirAll(filepath.Join(work, d, "target"), 0o755)
	}
	// And a shared target it left, in any state.
	shared := filepath.Join(work, "targets-fake", "0-stable")
	os.MkdirAll(filepath.Join(shared, "debug"), 0o755)
	os.WriteFile(filepath.Join(shared, "debug", "left-over"), nil, 0o644)
	job := fakeJob("crate", streams.ModeCheckOnly)
	job.CapLints = "allow"
	runFake(t, r, Config{WorkDir: work, CargoPath: "/root/.cargo/bin/cargo", RustupHome: "/root/.rustup"}, 1,
		func(js jetstream.JetStream) { publishJob(t, js, job) })

	if r.owns == nil || !r.owns("ejecta-fake-0-1") || r.owns("ejecta-fake-x-0-1") {
		t.Error("Cleanup was not given builder fake's task IDs exactly")
	}
	if _, err := os.Stat(filepath.Join(work, "fake-0-3-0123abcd")); !os.IsNotExist(err) {
		t.Errorf("leftover job dir of this builder not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "fake-x-0-3-0123abcd")); err != nil {
		t.Errorf("job dir of builder fake-x removed: %v", err)
	}
	if len(r.tasks) != 3 {
		t.Fatalf("%d tasks, want rustc -vV, generate-lockfile and check", len(r.tasks))
	}
	// The toolchain's own program runs in the sandbox too, as the slot's
	// user, without the job dir.
	probe := r.tasks[0]
	if !slices.Equal(probe.Args, []string{"/root/.cargo/bin/rustc", "+stable", "-vV"}) || len(probe.WritableDirs) != 0 ||
		probe.UID != DefaultBuildUID || probe.GID != DefaultBuildUID {
		t.Errorf("first task %+v, want rustc +stable -vV as the slot's user, nothing writable", probe)
	}
	ids := map[string]bool{probe.ID: true}
	for _, task := range r.tasks[1:] {
		ids[task.ID] = true
		if task.UID != DefaultBuildUID || task.GID != DefaultBuildUID || !slices.Contains(task.ReadOnlyDirs, "/root/.rustup") {
			t.Errorf("task runs as %d:%d seeing %v, want the slot's user and rustup's home", task.UID, task.GID, task.ReadOnlyDirs)
		}
		dir := task.WritableDirs[0]
		// A first run builds in the slot's shared target, made afresh.
		if !slices.Equal(task.WritableDirs, []string{dir, shared}) {
			t.Errorf("writable dirs %v, want the job dir and %s", task.WritableDirs, shared)
		}
		want := map[string]bool{
			"PATH=/root/.cargo/bin:/usr/local/bin:/usr/bin:/bin": true, "HOME=" + dir + "/home": true,
			"RUSTUP_HOME=/root/.rustup": true, "CARGO_HOME=" + dir + "/cargo-home": true,
			"CARGO_TARGET_DIR=" + shared: true, "CARGO_TERM_COLOR=always": true,
			"RUSTUP_AUTO_INSTALL=0": true, "RUSTUP_TOOLCHAIN=stable": true, "RUSTFLAGS=--cap-lints=allow": true,
			"RUSTDOCFLAGS=--cap-lints=allow": true,
		}
		for _, kv := range task.Env {
			if !want[kv] {
				t.Errorf("unexpected env %q", kv)
			}
			delete(want, kv)
		}
		if len(want) > 0 {
			t.Errorf("env lacks %v", want)
		}
		if !workspace.IsDirOf(filepath.Base(dir), "fake") || filepath.Dir(dir) != work || task.Dir != dir+"/wrapper" {
			t.Errorf("job dir %q, task dir %q", dir, task.Dir)
		}
		if task.CPUs != "" || task.MemoryBytes != DefaultMemoryBytes || task.PidsLimit != DefaultPidsLimit {
			t.Errorf("limits cpus=%q mem=%d pids=%d", task.CPUs, task.MemoryBytes, task.PidsLimit)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("job dir %s not removed after the attempt", dir)
		}
	}
	if _, err := os.Stat(filepath.Join(shared, "debug", "left-over")); !os.IsNotExist(err) {
		t.Errorf("the shared target a previous run left was not purged at start: %v", err)
	}
	if len(ids) != 3 || !ids["ejecta-fake-0-1"] {
		t.Errorf("task IDs %v, want unique ejecta-fake-0-<n>", ids)
	}
}

// Bytes that are not a job go to the dead stream, and the builder goes on.
func TestBuilderBuriesPoison(t *testing.T) {
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	good := fakeJob("good", streams.ModeCheckOnly)
	subj := streams.JobSubject(good.BuildKey)
	poison := []struct{ data, deadSubj string }{
		{"\x00\xff not json", streams.DeadSubject("", streams.AnonymousSender)},
		{`{"v":2,"experiment":"fake"}`, streams.DeadSubject("fake", streams.AnonymousSender)},
		{`{"v":1,"experiment":"fake","crate":"c","version":"1","toolchain":"stable","mode":"check-only","crate_source":"/x"}`, streams.DeadSubject("fake", streams.AnonymousSender)},
		{`{"v":1,"experiment":"fake","unknown":true}`, streams.DeadSubject("fake", streams.AnonymousSender)},
	}
	res, js := runFake(t, r, Config{}, 1, func(js jetstream.JetStream) {
		for _, p := range poison {
			if _, err := js.Publish(context.Background(), subj, []byte(p.data)); err != nil {
				t.Fatal(err)
			}
		}
		publishJob(t, js, good)
	})
	if res[0].Crate != "good" || res[0].Status != streams.StatusTestPass {
		t.Errorf("result %+v", res[0])
	}
	dead, err := js.OrderedConsumer(context.Background(), streams.DeadStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range poison {
		m, err := dead.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data()) != p.data || m.Subject() != p.deadSubj || m.Headers().Get(streams.HdrDeadReason) == "" {
			t.Errorf("dead letter %q on %s (reason %q), want %q on %s", m.Data(), m.Subject(), m.Headers().Get(streams.HdrDeadReason), p.data, p.deadSubj)
		}
	}
}

func exitWith(code int, stderr string) func(context.Context, sandbox.Task) (sandbox.Exit, error) {
	return func(_ context.Context, t sandbox.Task) (sandbox.Exit, error) {
		t.Stderr.Write([]byte(stderr))
		return sandbox.Exit{Code: code}, nil
	}
}

// failFirst is a step that fails with err in the first attempt and
// succeeds in the others.
func failFirst(err error) func(context.Context, sandbox.Task) (sandbox.Exit, error) {
	var calls atomic.Int32
	return func(context.Context, sandbox.Task) (sandbox.Exit, error) {
		if calls.Add(1) == 1 {
			return sandbox.Exit{}, err
		}
		return sandbox.Exit{}, nil
	}
}
