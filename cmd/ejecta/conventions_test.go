package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Bad input exits with 2 whatever refused it: cobra (an unknown command or
// flag, a missing required flag, wrong arguments) or a command's own checks
// (a bad value, an unknown experiment). A failure to reach a server is 1.
func TestExitCodes(t *testing.T) {
	ns := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", ns.URL, "--log-level", "warn"}
	if out, err := run(t, append(g, "experiment", "create", "known", "--toolchains", "stable,nightly", "--mode", "check-only",
		"--crates", "cfg-if", "--crate-source", reg, "--no-toolchain-check")...); err != nil {
		t.Fatalf("create: %q, %v", out, err)
	}
	store := "file://" + t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"version", []string{"version"}, 0},
		{"no command", nil, 0},
		{"group without subcommand", []string{"experiment"}, 0},
		{"status of a known experiment", append(g, "experiment", "status", "known"), 0},
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown subcommand", []string{"experiment", "frobnicate"}, 2},
		{"unknown subcommand of streams", []string{"streams", "frobnicate"}, 2},
		{"unknown flag", []string{"builders", "--frobnicate"}, 2},
		{"missing required flag", append(g, "experiment", "create", "e1", "--mode", "check-only", "--crates", "cfg-if"), 2},
		{"extra argument", []string{"experiment", "list", "extra"}, 2},
		{"bad builder id", []string{"builders", "no/slash"}, 2},
		{"missing argument", []string{"experiment", "status"}, 2},
		{"bad flag value", append(g, "experiment", "create", "e1", "--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--priority", "x"), 2},
		{"bad output", append(g, "builders", "-o", "yaml"), 2},
		{"unknown experiment: status", append(g, "experiment", "status", "nope"), 2},
		{"unknown experiment: abort", append(g, "experiment", "abort", "nope"), 2},
		{"unknown experiment: report", append(g, "report", "nope", "--store", store), 2},
		{"unknown experiment: tail", append(g, "tail", "nope"), 2},
		{"unknown experiment: logs", append(g, "logs", "nope", "cfg-if", "--store", store), 2},
		{"unknown experiment: dead-letters", append(g, "dead-letters", "nope"), 2},
		{"server unreachable", []string{"--nats", "nats://127.0.0.1:1", "experiment", "list"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, tc.args...)
			if got := exitCode(err); got != tc.code {
				t.Errorf("ejecta %s: exit code %d (error %v, output %q), want %d", strings.Join(tc.args, " "), got, err, out, tc.code)
			}
		})
	}
}

// The process exits with exitCode's code, and says what was wrong.
func TestBinaryExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate" for "ejecta"`},
		{[]string{"experiment", "creat"}, 2, "did you mean create?"},
		{[]string{"experiment", "create", "x", "--mode", "check-only"}, 2, `required flag(s) "crates", "toolchains" not set`},
		{[]string{"--nats", "nats://127.0.0.1:1", "builders"}, 1, "connect to nats"},
		{[]string{"--version"}, 0, "ejecta "},
	} {
		cmd := exec.Command(os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1")
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("ejecta %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, tc.code, tc.want)
		}
	}
}

// `ejecta version` and `--version` say the same version, read from the
// build information; -o json has each part.
func TestVersion(t *testing.T) {
	v := buildVersion()
	if v.Version == "" || v.Go == "" {
		t.Fatalf("buildVersion() = %+v", v)
	}
	out, err := run(t, "--version")
	if err != nil || out != "ejecta "+v.String()+"\n" {
		t.Errorf("--version: %q, %v; want %q", out, err, "ejecta "+v.String())
	}
	out, err = run(t, "version")
	if err != nil || !strings.HasPrefix(out, "ejecta "+v.String()+"\n") || !strings.Contains(out, v.Go) {
		t.Errorf("version: %q, %v", out, err)
	}
	out, err = run(t, "version", "-o", "json")
	var got versionInfo
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got != v {
		t.Errorf("version -o json: %q, %v; want %+v", out, err, v)
	}

	// Builders say it in their heartbeats.
	var bf builderFlags
	bf.register(pflag.NewFlagSet("builder", pflag.ContinueOnError), t.TempDir())
	if cfg, err := bf.config(); err != nil || cfg.Version != v.String() {
		t.Errorf("builder config version %q, %v; want %q", cfg.Version, err, v.String())
	}

	for _, tc := range []struct {
		v    versionInfo
		want string
	}{
		{versionInfo{Version: "v1.2.3"}, "v1.2.3"},
		{versionInfo{Version: "(devel)"}, "(devel)"},
		{versionInfo{Version: "(devel)", Revision: "0123456789abcdef0123"}, "(devel)-0123456789ab"},
		{versionInfo{Version: "(devel)", Revision: "0123456789abcdef0123", Modified: true}, "(devel)-0123456789ab+dirty"},
		{versionInfo{Version: "v0.0.0-20261206223246-0123456789ab+dirty", Revision: "0123456789abcdef0123", Modified: true}, "v0.0.0-20261206223246-0123456789ab+dirty"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// `builders` shows each builder's version, as its heartbeat says it, and
// the user it was written as.
func TestBuildersVersionColumn(t *testing.T) {
	now := time.Now()
	var b strings.Builder
	err := printBuilders(&b, []streams.Heartbeat{
		{ID: "b1", Host: "h1", Slots: 2, Version: "v1.4.0", Updated: now, Sender: "builder-h1"},
		{ID: "b2", Host: "h2", Slots: 2, Updated: now},
	}, now)
	lines := strings.Split(b.String(), "\n")
	if err != nil || len(lines) < 3 || !strings.Contains(lines[0], "VERSION") || !strings.Contains(lines[0], "USER") ||
		!strings.Contains(lines[1], "v1.4.0") || !strings.Contains(lines[1], "builder-h1") || strings.Fields(lines[2])[2] != "-" {
		t.Errorf("builders:\n%s(%v)", b.String(), err)
	}
}

// Every command that prints a result takes --output json; the ones that
// print a log or run a component have nothing else to print, and
// healthcheck's answer is its exit status.
func TestEveryCommandThatPrintsTakesOutputJSON(t *testing.T) {
	noOutput := map[string]bool{"ejecta up": true, "ejecta builder": true, "ejecta uploader": true, "ejecta reporter": true,
		"ejecta web": true, "ejecta tail": true, "ejecta logs": true, "ejecta healthcheck": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.HasSubCommands() && !noOutput[c.CommandPath()] {
			if f := c.Flags().Lookup("output"); f == nil || !strings.Contains(f.Usage, "json") {
				t.Errorf("%s has no --output json", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())

	ns := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", ns.URL, "--log-level", "error"}
	out, err := run(t, append(g, "streams", "ensure", "-o", "json")...)
	var ensured struct {
		Replicas int      `json:"replicas"`
		Buckets  []string `json:"buckets"`
	}
	if err != nil || json.Unmarshal([]byte(out), &ensured) != nil || ensured.Replicas != 1 || !slices.Contains(ensured.Buckets, streams.EndpointsBucket) {
		t.Errorf("streams ensure -o json: %q, %v", out, err)
	}
	out, err = run(t, append(g, "experiment", "create", "js", "--toolchains", "stable,nightly", "--mode", "check-only",
		"--crates", "cfg-if", "--crate-source", reg, "--no-toolchain-check", "-o", "json")...)
	var created producer.Outcome
	if err != nil || json.Unmarshal([]byte(out), &created) != nil || created.Experiment.Name != "js" || created.Experiment.Jobs != 2 {
		t.Errorf("experiment create -o json: %q, %v", out, err)
	}
	dir := filepath.Join(t.TempDir(), "nats")
	out, err = run(t, "auth", "init", dir, "-o", "json")
	var wrote struct {
		Dir   string   `json:"dir"`
		Files []string `json:"files"`
	}
	if err != nil || json.Unmarshal([]byte(out), &wrote) != nil || wrote.Dir != dir || !slices.Contains(wrote.Files, "viewer.env") {
		t.Errorf("auth init -o json: %q, %v", out, err)
	}
}
