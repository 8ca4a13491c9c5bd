package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// reportFixture is the results.json of an experiment with a regression of
// its own, a root cause with dependents, a dependency not itself in the
// experiment, a fix and crates that did the same on both toolchains.
func reportFixture(exp string) results.File {
	run := func(tc string, st streams.Status, reason streams.Reason, crate, version string) results.RunResult {
		k := streams.BuildKey{Experiment: exp, Crate: crate, Version: version, Toolchain: tc}
		return results.RunResult{Toolchain: tc, Status: st, Reason: reason, Attempt: 1, Log: streams.LogObjectKey(k, 1)}
	}
	crate := func(name, version string, class results.Class, root, confirmation string, old, new streams.Status, reason streams.Reason) results.CrateResult {
		return results.CrateResult{Name: name, Version: version, Class: class, Root: root, Confirmation: confirmation,
			Results: []results.RunResult{run("stable", old, "", name, version), run("nightly", new, reason, name, version)}}
	}
	lone := crate("lone", "0.1.0", results.ClassRegressed, "", "confirmed", streams.StatusTestPass, streams.StatusBuildFail, "compiler-error(E0599)")
	lone.Results[1].FirstError = &streams.FirstError{Code: "E0599", Message: "no method named `frobnicate` found for struct `Lone` in the current scope",
		File: "lone-0.1.0/src/lib.rs", Line: 12, LogLine: 31}
	return results.File{
		V: results.FileVersion, Experiment: exp, Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		TotalJobs: 14, DoneJobs: 14, Confirmations: 1,
		Classes: map[results.Class]int{results.ClassRegressed: 4, results.ClassFixed: 1, results.ClassSameTestPass: 2},
		Crates: []results.CrateResult{
			crate("app", "1.0.0", results.ClassRegressed, "serde", "confirmed", streams.StatusTestPass, streams.StatusBuildFail, "depends-on(serde)"),
			crate("cfg-if", "1.0.0", results.ClassSameTestPass, "", "", streams.StatusTestPass, streams.StatusTestPass, ""),
			lone,
			sharedFirstRun(crate("old", "2.0.0", results.ClassFixed, "", "confirmed", streams.StatusBuildFail, streams.StatusTestPass, "")),
			crate("serde", "1.0.0", results.ClassRegressed, "", "confirmed", streams.StatusTestPass, streams.StatusBuildFail, "ice"),
			crate("tool", "0.3.0", results.ClassRegressed, "gone", "confirmed", streams.StatusTestPass, streams.StatusBuildFail, "depends-on(gone)"),
			crate("zlib", "1.0.0", results.ClassSameTestPass, "", "", streams.StatusTestPass, streams.StatusTestPass, ""),
		},
	}
}

// sharedFirstRun marks c's first run as built in shared targets.
func sharedFirstRun(c results.CrateResult) results.CrateResult {
	for i := range c.Results {
		c.Results[i].SharedTarget = true
	}
	return c
}

// `report NAME` prints what a person wants from results.json: progress,
// classes, regressions by root cause, each result's log; markdown for a
// comment; json as the file is. It finds the store and the web UI where
// the farm recorded them.
func TestReportInTheTerminal(t *testing.T) {
	ns := testenv.StartNATS(t)
	_, js := ns.Connect(t)
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for key, u := range map[string]string{streams.EndpointStore: "file://" + dir, streams.EndpointWeb: "http://web.example:8080/"} {
		if err := streams.RecordEndpoint(ctx, js, key, streams.Endpoint{URL: u, By: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(reportFixture("rep"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "rep"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, results.Key("rep")), data, 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--nats", ns.URL, "--log-level", "error"}

	out, err := run(t, append(g, "report", "rep")...)
	if err != nil {
		t.Fatal(err)
	}
	want := `experiment rep: stable → nightly, check-only
finished: 14 builds, every regression re-run 1 time to confirm it
report  http://web.example:8080/experiments/rep
        ` + dir + `/rep/index.html

  4 regressed
  1 fixed
  2 same-test-pass

REGRESSED: 4 crates
  root cause serde: 1 dependent regressed because it did
  serde 1.0.0, confirmed
    stable:   test-pass
              log http://web.example:8080/logs/rep/serde/1.0.0/stable/1
    nightly:  build-fail ice
              log http://web.example:8080/logs/rep/serde/1.0.0/nightly/1
  app 1.0.0, confirmed
    stable:   test-pass
              log http://web.example:8080/logs/rep/app/1.0.0/stable/1
    nightly:  build-fail depends-on(serde)
              log http://web.example:8080/logs/rep/app/1.0.0/nightly/1
  lone 0.1.0, confirmed
    stable:   test-pass
              log http://web.example:8080/logs/rep/lone/0.1.0/stable/1
    nightly:  build-fail compiler-error(E0599)
              error[E0599]: no method named ` + "`frobnicate`" + ` found for struct ` + "`Lone`" + ` in the current scope at lone-0.1.0/src/lib.rs:12
              log http://web.example:8080/logs/rep/lone/0.1.0/nightly/1#L31
  dependency gone (not regressed itself in this experiment): 1 dependent
  tool 0.3.0, confirmed
    stable:   test-pass
              log http://web.example:8080/logs/rep/tool/0.3.0/stable/1
    nightly:  build-fail depends-on(gone)
              log http://web.example:8080/logs/rep/tool/0.3.0/nightly/1

FIXED: 1 crate
  old 2.0.0, confirmed
    stable:   build-fail, shared target
              log http://web.example:8080/logs/rep/old/2.0.0/stable/1
    nightly:  test-pass, shared target
              log http://web.example:8080/logs/rep/old/2.0.0/nightly/1
`
	if out != want {
		t.Errorf("report:\n%s\nwant:\n%s", out, want)
	}

	// Another store, named: its logs are where it keeps them.
	other := t.TempDir()
	os.MkdirAll(filepath.Join(other, "rep"), 0o755)
	os.WriteFile(filepath.Join(other, results.Key("rep")), data, 0o644)
	out, err = run(t, append(g, "report", "rep", "--store", "file://"+other)...)
	if err != nil || !strings.Contains(out, "http://web.example:8080/logs/rep/lone/0.1.0/nightly/1") {
		t.Errorf("report --store: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(other, "rep"))

	out, err = run(t, append(g, "report", "rep", "-o", "markdown")...)
	for _, w := range []string{"# Experiment rep\n", "| regressed | 4 |", "## regressed (4)", "### root cause serde: 1 dependent regressed because it did",
		"- **old 2\\.0\\.0** (confirmed): stable build\\-fail, shared target ([log]",
		"- **lone 0\\.1\\.0** (confirmed): stable test\\-pass ([log](http://web.example:8080/logs/rep/lone/0.1.0/stable/1)); nightly build\\-fail compiler\\-error\\(E0599\\)",
		// The build's own text is code, not escaped markdown.
		"([log](http://web.example:8080/logs/rep/lone/0.1.0/nightly/1))\n  - first error (nightly): `E0599` ``no method named `frobnicate` found for struct `Lone` in the current scope`` at `lone-0.1.0/src/lib.rs:12` ([log line 31](http://web.example:8080/logs/rep/lone/0.1.0/nightly/1#L31))\n"} {
		if err != nil || !strings.Contains(out, w) {
			t.Errorf("report -o markdown: %v, want %q in\n%s", err, w, out)
		}
	}
	out, err = run(t, append(g, "report", "rep", "-o", "json")...)
	if err != nil || out != string(data) {
		t.Errorf("report -o json: %v, want results.json as it is", err)
	}

	// Without a web UI recorded, logs are where the store keeps them.
	kv, _ := js.KeyValue(ctx, streams.EndpointsBucket)
	kv.Delete(ctx, streams.EndpointWeb)
	out, err = run(t, append(g, "report", "rep")...)
	if err != nil || !strings.Contains(out, "log "+dir+"/rep/logs/nightly/lone/0%2E1%2E0/1.log (line 31)\n") || strings.Contains(out, "web.example") {
		t.Errorf("report without a web UI: %v\n%s", err, out)
	}

	// An experiment with neither a record nor a report is bad input; one
	// without a report yet a failure that says so.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report", "nope"}, 2, `unknown experiment "nope"`},
		{[]string{"report", "rep", "--store", "file://" + other}, 2, `unknown experiment "rep"`},
		{[]string{"report", "rep", "-o", "yaml"}, 2, `--output "yaml": want text, json or markdown`},
	} {
		_, err := run(t, append(g, tc.args...)...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.code, tc.want)
		}
	}
	reg := testenv.CrateRegistry(t)
	if _, err := run(t, append(g, "experiment", "create", "young", "--toolchains", "stable,nightly", "--mode", "check-only",
		"--crates", "cfg-if", "--crate-source", reg, "--no-toolchain-check")...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, append(g, "report", "young")...); err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "no report yet") {
		t.Errorf("report of an experiment without results: %v, want exit 1 saying it has no report yet", err)
	}
}
