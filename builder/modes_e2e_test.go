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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// Every mode on real crates in the real sandbox: the result crater would
// give, and the log lines a user would look for.
func TestBuilderModes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	reg := modeRegistry(t)
	home, _ := testenv.Rustup(t)
	nightlyMiri := cargo.MissingComponent(home, "nightly", "miri", "rust-src") == ""
	if cargo.ToolchainDir(home, "nightly") == "" {
		testenv.Unavailable(t, "rustup has no nightly toolchain")
	}
	stableDir := cargo.ToolchainDir(home, "stable")

	type want = jobWant
	tests := []struct {
		name string
		job  streams.Job
		want want
	}{
		{"check passes where clippy fails", mkJob("check", "ejecta-mode-clippy", "stable", streams.ModeCheckOnly, reg, ""),
			want{streams.StatusTestPass, "", []string{"$ cargo +stable check --frozen\n"}}},
		{"clippy denies a lint", mkJob("clippy", "ejecta-mode-clippy", "stable", streams.ModeClippy, reg, ""),
			want{streams.StatusBuildFail, "compiler-error(clippy::approx_constant)", []string{
				"$ cargo +stable clippy --frozen --workspace --all-targets\n",
				"error: approximate value of `f{32, 64}::consts::PI` found",
				"finished: build-fail (compiler-error(clippy::approx_constant)), exit code 101"}}},
		// A real corpus crate: cfg-if's tests deny warnings that newer
		// toolchains raise; with lints capped it passes.
		{"clippy on a corpus crate, lints capped", mkJob("clippy-capped", "cfg-if", "stable", streams.ModeClippy, reg, "warn"),
			want{streams.StatusTestPass, "", []string{"Checking cfg-if v1.0.0", "$ cargo +stable clippy --frozen --workspace --all-targets\n"}}},
		{"rustdoc fails on a broken link", mkJob("rustdoc", "ejecta-mode-rustdoc", "stable", streams.ModeRustdoc, reg, ""),
			want{streams.StatusBuildFail, "compiler-error(rustdoc::broken_intra_doc_links)", []string{
				"$ cargo +stable doc --frozen --no-deps --document-private-items\n",
				"error: unresolved link to `NoSuchItem`"}}},
		// --cap-lints reaches rustdoc too: the denied lint becomes a warning.
		{"rustdoc with lints capped", mkJob("rustdoc-capped", "ejecta-mode-rustdoc", "stable", streams.ModeRustdoc, reg, "warn"),
			want{streams.StatusTestPass, "", []string{"lints capped at warn\n", "warning: unresolved link to `NoSuchItem`"}}},
		{"unstable features listed", mkJob("features", "ejecta-mode-features", "nightly", streams.ModeUnstableFeatures, reg, ""),
			want{streams.StatusTestPass, "", []string{
				buildlog.SystemPrefix + "unstable-feature: box_patterns\n" + buildlog.SystemPrefix + "unstable-feature: decl_macro\n" +
					buildlog.SystemPrefix + "unstable-feature: never_type\n" + buildlog.SystemPrefix + "unstable-feature: test\n" +
					buildlog.SystemPrefix + "4 unstable features\n"}}},
		{"fix applies a suggestion", mkJob("fix", "ejecta-mode-fix", "stable", streams.ModeFix, reg, "allow"),
			want{streams.StatusTestPass, "", []string{
				"$ cargo +stable fix --allow-no-vcs --allow-dirty --frozen --workspace --all-targets\n",
				"Fixed src/lib.rs (1 fix)"}}},
		{"no tests", mkJob("notests", "ejecta-mode-notests", "stable", streams.ModeBuildAndTest, reg, ""),
			want{streams.StatusTestSkipped, "", []string{"running 0 tests", buildlog.SystemPrefix + "tests skipped: the crate has no tests (cargo test ran 0)\n"}}},
		{"tests need a missing dev-dependency", mkJob("devdep", "ejecta-mode-devdep", "stable", streams.ModeBuildAndTest, reg, ""),
			want{streams.StatusTestSkipped, "", []string{"no matching package named `ejecta-no-such-dev-dependency` found",
				buildlog.SystemPrefix + "tests skipped: the crate's own dependencies (dev-dependencies included) cannot be resolved from " + reg + "\n"}}},
		// clippy resolves the crate without them, and lints what builds.
		{"clippy without the dev-dependencies", mkJob("clippy", "ejecta-mode-devdep", "stable", streams.ModeClippy, reg, ""),
			want{streams.StatusTestPass, "", []string{
				buildlog.SystemPrefix + "the crate as the root package cannot be resolved from " + reg + ": resolving it without dev-dependencies\n",
				buildlog.SystemPrefix + "$ cargo +stable clippy --frozen --workspace\n"}}},
		{"build-only", mkJob("buildonly", "ejecta-mode-notests", "stable", streams.ModeBuildOnly, reg, ""),
			want{streams.StatusTestSkipped, "", []string{buildlog.SystemPrefix + "tests skipped: mode build-only runs no tests\n"}}},
		// A toolchain named by its directory, as a compiler built from a
		// branch would be: rustup runs it as a custom toolchain.
		{"toolchain given as a path", mkJob("path", "ejecta-mode-clippy", stableDir, streams.ModeCheckOnly, reg, ""),
			want{streams.StatusTestPass, "", []string{"$ cargo +" + stableDir + " check --frozen\n", "Checking ejecta-mode-clippy v0.1.0"}}},
	}
	if !nightlyMiri {
		tests = append(tests, struct {
			name string
			job  streams.Job
			want want
		}{"miri without the component", mkJob("miri", "cfg-if", "nightly", streams.ModeMiri, reg, ""),
			want{streams.StatusError, "component-missing(miri)", []string{
				buildlog.SystemPrefix + "toolchain nightly does not have the miri component, which miri needs (rustup component add --toolchain nightly miri)\n"}}})
	}
	for _, tt := range tests {
		publishJob(t, js, tt.job)
	}
	metrics := prometheus.NewRegistry()
	startBuilder(t, nc, Config{ID: "modes", Slots: 2, InProgressEvery: time.Second, ToolchainPaths: []string{stableDir}, Metrics: metrics})

	got := awaitResults(t, js, len(tests), 3*time.Minute)
	// Each step is timed by cargo subcommand, its sandbox apart from its
	// process: the two check-only jobs ran check once each, and the one
	// build-and-test job with tests to run ran test once.
	steps := stepCounts(t, metrics)
	for step, want := range map[string]uint64{"check": 2, "test": 1} {
		if c := steps[step]; c[phaseProcess] != want || c[phaseSandbox] != want {
			t.Errorf("ejecta_builder_step_seconds{step=%q}: %v observations by phase, want %d of each", step, c, want)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.want.check(t, js, tt.job.BuildKey, got[tt.job.BuildKey])
			// A failure carries its first error, read from cargo's JSON,
			// and the log line where the log shows it.
			if e := got[tt.job.BuildKey].FirstError; tt.want.status == streams.StatusBuildFail {
				if lines := strings.Split(text, "\n"); e == nil || e.LogLine < 1 || e.LogLine > len(lines) ||
					!strings.HasPrefix(lines[e.LogLine-1], "error") || !strings.Contains(lines[e.LogLine-1], e.Message) ||
					!strings.Contains(string(tt.want.reason), e.Code) || !strings.HasPrefix(e.File, tt.job.Crate+"-0.1.0/src/") {
					t.Errorf("first error %+v, not where the log shows it", e)
				}
			} else if e != nil {
				t.Errorf("first error %+v of a %s", e, tt.want.status)
			}
			// The log starts with the toolchain's rustc -vV, exactly.
			vV, err := exec.Command("rustc", "+"+tt.job.Toolchain, "-vV").Output()
			if err != nil {
				t.Fatal(err)
			}
			version, _, _ := strings.Cut(strings.TrimPrefix(string(vV), "rustc "), "\n")
			head := buildlog.SystemPrefix + "toolchain " + tt.job.Toolchain + " (rustc " + version + "); " + tt.job.Crate + " 0.1.0"
			if tt.job.Crate == "cfg-if" {
				head = buildlog.SystemPrefix + "toolchain " + tt.job.Toolchain + " (rustc " + version + "); cfg-if 1.0.0"
			}
			block := buildlog.SystemPrefix + "$ rustc +" + tt.job.Toolchain + " -vV\n" + buildlog.SystemPrefix +
				strings.ReplaceAll(strings.TrimSuffix(string(vV), "\n"), "\n", "\n"+buildlog.SystemPrefix) + "\n"
			first, rest, _ := strings.Cut(text, "\n")
			if !strings.HasPrefix(first, head) || !strings.HasPrefix(rest, block) {
				t.Errorf("log does not start with the toolchain line and rustc -vV:\nwant %s...\n%s\ngot:\n%s", head, block, text)
			}
		})
	}
}

// stepCounts is how many steps ejecta_builder_step_seconds has observed,
// by step and phase.
func stepCounts(t *testing.T, reg *prometheus.Registry) map[string]map[string]uint64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "ejecta_builder_step_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if out[labels["step"]] == nil {
				out[labels["step"]] = map[string]uint64{}
			}
			out[labels["step"]][labels["phase"]] = m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

// modeRegistry is a directory source holding the mode fixtures of
// testdata/crates and Debian's cfg-if, a real corpus crate.
func modeRegistry(t *testing.T) string {
	t.Helper()
	cfgIf := filepath.Join(testenv.DebianRegistry, "cfg-if-1.0.0")
	if _, err := os.Stat(cfgIf); err != nil {
		testenv.Unavailable(t, "no %s (apt-get install librust-cfg-if-dev)", cfgIf)
	}
	ours, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "testdata", "crates", "ejecta-mode-*"))
	if err != nil || len(ours) == 0 {
		t.Fatalf("no mode fixtures under testdata/crates: %v", err)
	}
	dir := testenv.DurableTempDir(t)
	// Our fixtures are copied, not linked: the checkout may sit under
	// /tmp, which builds see as a private /tmp of their own.
	for _, c := range ours {
		if err := os.CopyFS(filepath.Join(dir, filepath.Base(c)), os.DirFS(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(cfgIf, filepath.Join(dir, filepath.Base(cfgIf))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// jobWant is what a test expects of a job's first attempt.
type jobWant struct {
	status streams.Status
	reason streams.Reason
	lines  []string // each somewhere in the log
}

// check compares r and the attempt's log with w and returns the log.
func (w jobWant) check(t *testing.T, js jetstream.JetStream, key streams.BuildKey, r streams.Result) string {
	t.Helper()
	text := logText(t, js, key, 1, w.status)
	if r.Status != w.status || r.Reason != w.reason {
		t.Errorf("result %s %q, want %s %q; log:\n%s", r.Status, r.Reason, w.status, w.reason, text)
	}
	for _, l := range w.lines {
		if !strings.Contains(text, l) {
			t.Errorf("log lacks %q:\n%s", l, text)
		}
	}
	return text
}

// awaitResults waits for the next n results, each within wait, by build.
func awaitResults(t *testing.T, js jetstream.JetStream, n int, wait time.Duration) map[streams.BuildKey]streams.Result {
	t.Helper()
	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[streams.BuildKey]streams.Result{}
	for range n {
		var r streams.Result
		nextJSON(t, results, wait, &r)
		got[r.BuildKey] = r
	}
	return got
}

func mkJob(exp, crate, tc string, mode streams.Mode, reg, capLints string) streams.Job {
	version := "0.1.0"
	if crate == "cfg-if" {
		version = "1.0.0"
	}
	return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "modes-" + exp, Crate: crate, Version: version, Toolchain: tc},
		Mode: mode, CrateSource: reg, CapLints: capLints}
}
