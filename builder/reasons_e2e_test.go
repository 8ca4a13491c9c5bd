package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// Real builds that hit each sandbox limit end with crater's failure reason,
// and an experiment's own limits (on the job) override the builder's.
func TestBuilderFailureReasons(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	reg := testdataRegistry(t)
	jobIn := func(exp, crate string, l streams.Limits) streams.Job {
		// An experiment per job: each has limits of its own.
		return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: exp, Crate: crate, Version: "0.1.0", Toolchain: "stable"},
			Mode: streams.ModeCheckOnly, CrateSource: reg, Limits: l}
	}
	job := func(crate string, l streams.Limits) streams.Job { return jobIn(crate, crate, l) }
	tests := []struct {
		job        streams.Job
		wantReason streams.Reason
		wantLine   string // a system line of the log
	}{
		// ejecta-slow prints "Compiling" and then nothing for ten minutes.
		{job("ejecta-slow", streams.Limits{NoOutputTimeout: streams.Duration(3 * time.Second)}), "no-output-timeout",
			"no output for 3s; the build was killed"},
		// The same, under a wall timeout that leaves the steps before
		// the build (the toolchain's probe, the lockfile) seconds to
		// spare on a loaded machine.
		{jobIn("ejecta-timeout", "ejecta-slow", streams.Limits{Timeout: streams.Duration(10 * time.Second)}), "timeout",
			"timed out after 10s; the build was killed"},
		// rustc compiling the build script fits in 384 MiB; its 4 GiB do not.
		{job("ejecta-oom", streams.Limits{MemoryBytes: 384 << 20}), "oom", "killed: out of memory (limit 384 MiB)"},
		{job("ejecta-network", streams.Limits{}), "network-access", "finished: build-fail (network-access), exit code 101"},
		// A fork bomb under the builder's pids limit: a plain failure.
		{job("ejecta-forkbomb", streams.Limits{}), "unknown", "pids 256"},
		// The error is in a dependency: the package of rustc's diagnostic
		// in cargo's JSON says so.
		{job("ejecta-usesbad", streams.Limits{}), "depends-on(ejecta-typeerr)", "finished: build-fail (depends-on(ejecta-typeerr)), exit code 101"},
	}
	for _, tt := range tests {
		publishJob(t, js, tt.job)
	}
	startBuilder(t, nc, Config{ID: "reasons", Slots: 2, PidsLimit: 256, InProgressEvery: time.Second})

	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]streams.Result{}
	for range tests {
		var r streams.Result
		nextJSON(t, results, 3*time.Minute, &r)
		got[r.Experiment] = r
	}
	for _, tt := range tests {
		t.Run(tt.job.Experiment, func(t *testing.T) {
			r := got[tt.job.Experiment]
			if r.Status != streams.StatusBuildFail || r.Reason != tt.wantReason {
				t.Errorf("result %s %q (exit %d), want build-fail %q", r.Status, r.Reason, r.ExitCode, tt.wantReason)
			}
			text := logText(t, js, tt.job.BuildKey, 1, streams.StatusBuildFail)
			if !strings.Contains(text, buildlog.SystemPrefix+"sandbox: host root read-only; user ") {
				t.Errorf("log lacks the sandbox settings line:\n%s", text)
			}
			if !strings.Contains(text, tt.wantLine) {
				t.Errorf("log lacks %q:\n%s", tt.wantLine, text)
			}
			if e := r.FirstError; tt.wantReason.Kind() == streams.ReasonDependsOn && (e == nil ||
				*e != streams.FirstError{Code: "E0308", Message: "mismatched types", File: "ejecta-typeerr-0.1.0/src/lib.rs", Line: 4, LogLine: e.LogLine} ||
				!strings.HasPrefix(strings.Split(text, "\n")[e.LogLine-1], "error[E0308]: mismatched types")) {
				t.Errorf("first error %+v, want the dependency's E0308 where the log shows it", e)
			}
			if !strings.HasSuffix(text, "\n") || !strings.Contains(text[strings.LastIndex(text[:len(text)-1], "\n")+1:], buildlog.SystemPrefix+"finished: build-fail") {
				t.Errorf("log does not end with the finished line:\n%s", text)
			}
		})
	}
	if t.Failed() {
		return
	}
	if !strings.Contains(logText(t, js, tests[4].job.BuildKey, 1, streams.StatusBuildFail), "not started") {
		t.Error("fork bomb's log lacks the refused spawn")
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("host cannot fork after the fork bomb: %v", err)
	}
	if out, _ := exec.Command("pgrep", "-f", "^sleep 600$").Output(); len(out) > 0 {
		t.Errorf("the fork bomb's processes outlived its sandbox: pids %s", out)
	}
}

// A task that cannot even start (the sandbox refuses the command) ends as
// an error with reason sandbox-error, never as a failure of the crate. The
// job is handed back twice first, in case the sandbox recovers; every
// attempt's log still ends with an end marker.
func TestBuilderTaskCannotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containerd tasks")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	// A cargo that is a file but not executable: runc fails to exec it.
	cargo := filepath.Join(testenv.DurableTempDir(t), "cargo")
	if err := os.WriteFile(cargo, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "nostart", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"},
		Mode: streams.ModeCheckOnly, CrateSource: testdataRegistry(t)}
	publishJob(t, js, j)
	startBuilder(t, nc, Config{ID: "nostart", Slots: 1, CargoPath: cargo, SandboxRetryDelay: 100 * time.Millisecond})
	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var r streams.Result
	nextJSON(t, results, time.Minute, &r)
	if r.Status != streams.StatusError || r.Reason != "sandbox-error" || r.Attempt != 3 {
		t.Errorf("result %+v, want error sandbox-error from attempt 3", r)
	}
	for a := 1; a <= 3; a++ {
		text := logText(t, js, j.BuildKey, a, streams.StatusError)
		if !strings.Contains(text, buildlog.SystemPrefix+"sandbox error: ") || !strings.Contains(text, buildlog.SystemPrefix+"finished: error (sandbox-error)") {
			t.Errorf("log of attempt %d lacks the sandbox error or the finished line:\n%s", a, text)
		}
		if handedBack := strings.Contains(text, "no result: the job is handed back"); handedBack != (a < 3) {
			t.Errorf("log of attempt %d: says handed back %v, want %v:\n%s", a, handedBack, a < 3, text)
		}
	}
}
