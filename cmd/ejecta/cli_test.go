package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// run executes ejecta with args in-process and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestExperimentCreateValidation(t *testing.T) {
	nats := testenv.StartNATS(t)
	src := t.TempDir()
	reg := testenv.CrateRegistry(t)
	base := []string{"--nats", nats.URL, "--log-level", "warn", "experiment", "create"}
	ok := []string{"--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}
	if _, err := run(t, append(append(base, "taken"), ok...)...); err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"e1", "--toolchains", "stable,nightly", "--mode", "fuzz", "--crates", "cfg-if", "--crate-source", reg}, `mode: unknown mode "fuzz" (accepted: build-and-test, build-only, check-only, clippy, rustdoc, unstable-features, fix, miri)`},
		{"one toolchain", []string{"e1", "--toolchains", "stable", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}, "toolchains: want exactly two"},
		{"three toolchains", []string{"e1", "--toolchains", "stable,beta,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}, "toolchains: want exactly two"},
		{"empty selection", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", ",", "--crate-source", reg}, "crates: selection"},
		{"all of an empty source", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "all", "--crate-source", src}, "crates: selection is empty"},
		{"unknown crate", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if,no-such-crate", "--crate-source", reg}, "crates: unknown crate(s) no-such-crate"},
		{"bad top-N", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "top-many", "--crate-source", reg}, `crates: "top-many": count "many" is not a positive integer`},
		{"unknown skip", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "all", "--skip", "nope", "--crate-source", reg}, "skip: unknown crate(s) nope"},
		{"missing downloads file", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "top-1", "--downloads", "/nonexistent/dl.csv", "--crate-source", reg}, "downloads: open /nonexistent/dl.csv"},
		{"name taken", []string{"taken", "--toolchains", "stable,beta", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}, `name: experiment name taken: "taken"`},
		{"missing flag", []string{"e1", "--mode", "check-only", "--crates", "cfg-if"}, `required flag(s) "toolchains" not set`},
		{"no name", []string{"--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if"}, "want exactly one NAME"},
		{"bad name", []string{"Not/A/Name", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}, `name: experiment name "Not/A/Name"`},
		{"bad cap-lints", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg, "--cap-lints", "loud"}, `cap-lints: unknown level "loud"`},
		{"bad priority", []string{"e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg, "--priority", "x"}, `invalid argument "x" for "--priority"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, append(base, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tc.want)
			}
			if code := exitCode(err); code != 2 {
				t.Errorf("error %v exits with code %d, want the usage code 2", err, code)
			}
		})
	}
}

func TestExperimentCreateListStatus(t *testing.T) {
	nats := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", nats.URL, "--log-level", "warn"}
	create := append(append([]string{}, g...), "experiment", "create", "e2", "--toolchains", "stable,nightly",
		"--mode", "build-only", "--crates", "cfg-if,itoa@1.0.1", "--crate-source", reg)
	out, err := run(t, create...)
	if err != nil || !strings.Contains(out, "experiment e2 created: 2 crates × 2 toolchains = 4 jobs") {
		t.Fatalf("create: %q, %v", out, err)
	}
	out, err = run(t, create...)
	if err != nil || !strings.Contains(out, "already exists with these settings: 4 jobs, 0 added now") {
		t.Fatalf("repeat create: %q, %v", out, err)
	}
	out, err = run(t, append(g, "experiment", "list")...)
	if err != nil || !strings.Contains(out, "e2") || !strings.Contains(out, "stable,nightly") {
		t.Fatalf("list: %q, %v", out, err)
	}
	out, err = run(t, append(g, "experiment", "status", "e2", "--output", "json")...)
	if err != nil || !strings.Contains(out, `"total": 4`) || !strings.Contains(out, `"queued": 4`) {
		t.Fatalf("status: %q, %v", out, err)
	}
	_, err = run(t, append(g, "experiment", "status", "nope")...)
	if err == nil || !strings.Contains(err.Error(), `unknown experiment "nope"`) {
		t.Fatalf("status of unknown: %v", err)
	}
	_, err = run(t, append(g, "experiment", "status", "e2", "--output", "yaml")...)
	if err == nil || !strings.Contains(err.Error(), `--output "yaml": want text or json`) {
		t.Fatalf("bad output: %v", err)
	}
}

func TestBadEnvironmentValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"EJECTA_SLOTS", "many", `environment EJECTA_SLOTS="many" (for --slots)`},
		{"EJECTA_REPLICAS", "3x", `environment EJECTA_REPLICAS="3x" (for --replicas)`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			_, err := run(t, "builder", "--nats", "nats://127.0.0.1:1")
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

func TestEmptyListsAreJSONArrays(t *testing.T) {
	nats := testenv.StartNATS(t)
	if _, err := run(t, "--nats", nats.URL, "streams", "ensure"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"experiment", "list"}, {"builders"}, {"dead-letters"}} {
		out, err := run(t, append([]string{"--nats", nats.URL, "--log-level", "warn"}, append(args, "--output", "json")...)...)
		if err != nil || strings.TrimSpace(out) != "[]" {
			t.Errorf("%v: %q, %v; want []", args, out, err)
		}
	}
}

// A bad builder flag is named before anything is connected: the NATS URL
// here answers nothing, and the error must not be about it.
func TestBuilderFlagsCheckedBeforeConnecting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sandbox-retry-delay", "-1s"}, "sandbox retry delay -1s: want 0 or more"},
		{[]string{"--drain-grace", "-1s"}, "drain grace -1s: want 0 or more"},
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--work-dir", "relative"}, `--work-dir "relative": want an absolute path`},
		{[]string{"--builder-id", "no/slash"}, `id: builder id "no/slash"`},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			args := append([]string{"--nats", "nats://127.0.0.1:1", "builder", "--work-dir", t.TempDir()}, tc.args...)
			_, err := run(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant one containing %q", err, tc.want)
			}
			var ue usageError
			if !errors.As(err, &ue) {
				t.Errorf("error %v does not exit with the usage code 2", err)
			}
		})
	}
}

// A sparse registry over plain HTTP is accepted, with a warning on stderr
// naming it; a directory source gets none.
func TestExperimentCreateWarnsOfPlainHTTPRegistry(t *testing.T) {
	nats := testenv.StartNATS(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a-1.0.0"), 0o755)
	os.WriteFile(filepath.Join(src, "a-1.0.0", "Cargo.toml"), []byte("[package]\nname = \"a\"\nversion = \"1.0.0\"\n"), 0o644)
	reg := testenv.ServeSparseRegistry(t, src)
	create := func(name, source string) (string, error) {
		return run(t, "--nats", nats.URL, "--log-level", "error", "experiment", "create", name, "--toolchains", "stable,nightly",
			"--mode", "check-only", "--crates", "a", "--crate-source", source, "--no-toolchain-check")
	}
	out, err := create("plain-http", reg.Source)
	want := `warning: crate source "` + reg.Source + `" is read over plain HTTP`
	if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "only as trustworthy as the index") {
		t.Errorf("create from %s: %q, %v; want %q", reg.Source, out, err, want)
	}
	if out, err := create("from-dir", src); err != nil || strings.Contains(out, "warning") {
		t.Errorf("create from a directory: %q, %v; want no warning", out, err)
	}
}
