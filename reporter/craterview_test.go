package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// The types below mirror crater's serde definitions (rust-lang/crater
// src/report/mod.rs RawTestResults, CrateResult, BuildTestResult;
// src/crates/mod.rs Crate, RegistryCrate; src/experiments.rs Experiment;
// src/toolchain.rs Toolchain; rustwide's Toolchain), and the functions
// parse strings as crater's FromStr implementations do. The crater view is
// decoded with them strictly: an unknown or misspelt field, a missing one,
// or a string crater's parser refuses fails the test.

type mirrorRawTestResults struct {
	Crates []json.RawMessage `json:"crates"`
}

type mirrorCrateResult struct {
	Name   string                     `json:"name"`
	URL    string                     `json:"url"`
	Krate  map[string]json.RawMessage `json:"krate"` // externally tagged
	Status *string                    `json:"status"`
	Res    string                     `json:"res"`
	Runs   []*mirrorBuildTestResult   `json:"runs"` // [Option<BuildTestResult>; 2]
}

type mirrorRegistryCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type mirrorBuildTestResult struct {
	Res string `json:"res"`
	Log string `json:"log"`
}

type mirrorExperiment struct {
	Name            string            `json:"name"`
	Toolchains      []mirrorToolchain `json:"toolchains"`
	Mode            string            `json:"mode"`
	CapLints        string            `json:"cap_lints"`
	Priority        int32             `json:"priority"`
	CreatedAt       time.Time         `json:"created_at"`
	StartedAt       *time.Time        `json:"started_at"`
	CompletedAt     *time.Time        `json:"completed_at"`
	GitHubIssue     *json.RawMessage  `json:"github_issue"`
	Status          string            `json:"status"`
	AssignedTo      *json.RawMessage  `json:"assigned_to"`
	ReportURL       *string           `json:"report_url"`
	IgnoreBlacklist bool              `json:"ignore_blacklist"`
	Requirement     *string           `json:"requirement"`
}

type mirrorToolchain struct {
	Source       json.RawMessage   `json:"source"`
	Target       *string           `json:"target"`
	Rustflags    *string           `json:"rustflags"`
	Rustdocflags *string           `json:"rustdocflags"`
	Cargoflags   *string           `json:"cargoflags"`
	CITry        bool              `json:"ci_try"`
	Patches      []json.RawMessage `json:"patches"`
}

type mirrorDistToolchain struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// decodeStrict decodes data into v as serde does into a struct without
// defaults: every field of v present, no other. Pointers are serde's
// Options, which may be absent only where crater skips them (optional).
func decodeStrict(t *testing.T, what string, data []byte, v any, optional ...string) {
	t.Helper()
	if err := strictDecode(data, v, optional...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, data)
	}
}

func strictDecode(data []byte, v any, optional ...string) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the value")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	for _, f := range jsonFields(v) {
		if _, ok := fields[f]; !ok && !slices.Contains(optional, f) {
			return fmt.Errorf("field %q missing", f)
		}
	}
	return nil
}

// TestStrictDecode checks that the mirror decoding refuses what serde
// would: an extra field, a misspelt one, a missing one.
func TestStrictDecode(t *testing.T) {
	tests := []struct {
		data string
		ok   bool
	}{
		{`{"res":"test-pass","log":"stable/reg/a-1.0.0"}`, true},
		{`{"res":"test-pass","log":"stable/reg/a-1.0.0","extra":1}`, false},
		{`{"res":"test-pass","logs":"stable/reg/a-1.0.0"}`, false},
		{`{"res":"test-pass"}`, false},
	}
	for _, tt := range tests {
		if err := strictDecode([]byte(tt.data), &mirrorBuildTestResult{}); (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want ok=%v", tt.data, err, tt.ok)
		}
	}
}

// jsonFields lists the json names of v's struct fields.
func jsonFields(v any) []string {
	data, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	return slices.Sorted(maps.Keys(m))
}

var craterComparisons = []string{"regressed", "fixed", "skipped", "unknown", "error", "broken", "prepare-fail",
	"build-fail", "test-fail", "test-skipped", "test-pass", "spurious-regressed", "spurious-fixed"}

// parseCraterTestResult is crater's TestResult::from_str.
func parseCraterTestResult(s string) error {
	status, reason, hasReason := strings.Cut(s, ":")
	switch status {
	case "test-skipped", "test-pass", "skipped", "error":
		if hasReason {
			return fmt.Errorf("%q: unexpected failure reason", s)
		}
		return nil
	case "broken":
		if hasReason && !slices.Contains([]string{"unknown", "cargo-toml", "broken-deps", "yanked",
			"missing-deps", "invalid-cargo-lock", "missing-git-repository"}, reason) {
			return fmt.Errorf("%q: invalid BrokenReason", s)
		}
		return nil
	case "prepare-fail", "build-fail", "test-fail":
		if !hasReason {
			return nil
		}
		return parseCraterFailureReason(reason)
	}
	return fmt.Errorf("%q: unknown test result", s)
}

// parseCraterFailureReason is crater's FailureReason::from_str.
func parseCraterFailureReason(s string) error {
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		contents := strings.Split(s[i+1:len(s)-1], ", ")
		switch s[:i] {
		case "compiler-error":
			return nil
		case "depends-on":
			for _, c := range contents {
				// Crate::from_str: reg/<name>/<version>.
				if p := strings.Split(c, "/"); len(p) != 3 || p[0] != "reg" {
					return fmt.Errorf("%q: unexpected crate value %q", s, c)
				}
			}
			return nil
		}
		return fmt.Errorf("unexpected prefix: %q", s)
	}
	switch s {
	case "network-access", "unknown", "oom", "timeout", "ice", "no-space", "docker":
		return nil
	}
	return fmt.Errorf("unexpected value: %q", s)
}

// TestCraterTestResult round-trips every status with every reason ejecta
// knows through crater's parser, and checks the ones crater spells out.
func TestCraterTestResult(t *testing.T) {
	statuses := []streams.Status{streams.StatusBroken, streams.StatusPrepareFail, streams.StatusBuildFail,
		streams.StatusTestFail, streams.StatusTestSkipped, streams.StatusTestPass, streams.StatusSkipped, streams.StatusError}
	reasons := []streams.Reason{"", "no-such-reason-yet", streams.CompilerError("E0308", "E0277"),
		streams.DependsOn("serde@1.0.1", "log 0.4.2", "bare"), streams.DependsOn("bare"),
		streams.ComponentMissing("clippy"), streams.GaveUp(3)}
	for _, r := range streams.Reasons() {
		reasons = append(reasons, r)
	}
	for _, s := range statuses {
		for _, r := range reasons {
			if got := craterTestResult(s, r); parseCraterTestResult(got) != nil {
				t.Errorf("%s %q: %q: %v", s, r, got, parseCraterTestResult(got))
			}
		}
	}
	tests := []struct {
		status streams.Status
		reason streams.Reason
		want   string
	}{
		{streams.StatusBuildFail, streams.CompilerError("E0308"), "build-fail:compiler-error(E0308)"},
		{streams.StatusBuildFail, streams.CompilerError("E0308", "E0277"), "build-fail:compiler-error(E0277, E0308)"},
		{streams.StatusBuildFail, streams.DependsOn("serde@1.0.1", "log v0.4.2"), "build-fail:depends-on(reg/log/0.4.2, reg/serde/1.0.1)"},
		{streams.StatusBuildFail, streams.DependsOn("serde"), "build-fail:unknown"},
		{streams.StatusBuildFail, "", "build-fail:unknown"},
		{streams.StatusTestFail, streams.ReasonNoOutputTimeout, "test-fail:timeout"},
		{streams.StatusBuildFail, streams.ReasonOOM, "build-fail:oom"},
		{streams.StatusBuildFail, streams.ReasonICE, "build-fail:ice"},
		{streams.StatusPrepareFail, streams.ReasonDownloadFailed, "prepare-fail:unknown"},
		{streams.StatusPrepareFail, streams.ReasonSandboxError, "prepare-fail:docker"},
		{streams.StatusError, streams.ReasonSandboxError, "error"},
		{streams.StatusBroken, "", "broken:unknown"},
		{streams.StatusTestPass, "", "test-pass"},
	}
	for _, tt := range tests {
		if got := craterTestResult(tt.status, tt.reason); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.status, tt.reason, got, tt.want)
		}
	}
}

// TestCraterLogPath checks crater's report encoding of log paths, and that
// decoding each component gives back the toolchain and crate.
func TestCraterLogPath(t *testing.T) {
	tests := []struct {
		tc, name, version, want string
	}{
		{"stable", "foo", "1.0.0", "stable/reg/foo-1.0.0"},
		{"nightly-2026-12-01", "serde_json", "1.0.133", "nightly-2026-12-01/reg/serde_json-1.0.133"},
		{"stable", "foo", "1.0.0+build.5", "stable/reg/foo-1.0.0%2Bbuild.5"},
		{"/opt/rust+stage2", "foo", "1.0.0-rc.1", "/opt/rust%2Bstage2/reg/foo-1.0.0-rc.1"},
		{"a b#c?d{e}`<f>\"", "x", "1.0.0", "a%20b%23c%3Fd%7Be%7D%60%3Cf%3E%22/reg/x-1.0.0"},
		{"tc\x01é", "x", "1.0.0", "tc%01%C3%A9/reg/x-1.0.0"},
	}
	for _, tt := range tests {
		got := craterLogPath(tt.tc, tt.name, tt.version)
		if got != tt.want {
			t.Errorf("%q %s@%s: %q, want %q", tt.tc, tt.name, tt.version, got, tt.want)
		}
		i := strings.LastIndex(got, "/reg/")
		if i < 0 {
			t.Fatalf("%q: no /reg/", got)
		}
		tc, rest := got[:i], got[i+len("/reg/"):]
		dtc, err1 := url.PathUnescape(tc)
		dcrate, err2 := url.PathUnescape(rest)
		if err1 != nil || err2 != nil || dtc != tt.tc || dcrate != tt.name+"-"+tt.version {
			t.Errorf("%q decodes to %q and %q (%v, %v)", got, dtc, dcrate, err1, err2)
		}
	}
}

// putCraterExperiment stores an experiment record with the toolchains tcs.
func (e *env) putCraterExperiment(name string, crates int, tcs ...string) {
	e.t.Helper()
	rec := streams.Experiment{V: 1, Name: name, Toolchains: tcs,
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list", Priority: 3,
		Crates: crates, Jobs: 2 * crates, Published: 2 * crates, CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		e.t.Fatal(err)
	}
	kv, err := e.js.KeyValue(context.Background(), streams.ExperimentsBucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), name, data); err != nil {
		e.t.Fatalf("put experiment: %v", err)
	}
}

// TestCraterView runs an experiment with a regression, a fix, a same
// failure, a broken crate and names that need encoding through the
// reporter, and decodes its crater view as crater would.
func TestCraterView(t *testing.T) {
	const exp = "crv"
	const base, next = "stable", "/opt/rust+stage2"
	e := newEnv(t)
	e.putCraterExperiment(exp, 5, base, next)
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1})
	pairOf := func(name, version string, a, b Outcome) {
		e.publish(result(exp, name, version, base, 1, a.Status, a.Reason))
		e.publish(result(exp, name, version, next, 1, b.Status, b.Reason))
	}
	broken := Outcome{Status: streams.StatusBroken}
	pairOf("regress", "1.0.0", oPass, bf(streams.CompilerError("E0308")))
	pairOf("mended", "2.1.0", bf(""), oPass)
	pairOf("stuck", "0.3.0", bf(streams.DependsOn("serde@1.0.1")), bf(streams.DependsOn("serde@1.0.1")))
	pairOf("shattered", "1.0.0", broken, broken)
	pairOf("plus", "1.0.0+build.5", oPass, oPass)
	e.waitResults(exp, 10)

	file := func(name string) []byte {
		return e.store.read(t, streams.ExperimentPrefix(exp)+name)
	}
	var cfg []byte
	waitFor(t, "crater config.json completed", func() bool {
		cfg = file(craterConfigFileName)
		return bytes.Contains(cfg, []byte(`"status":"completed"`))
	})

	var raw mirrorRawTestResults
	decodeStrict(t, "results.json", file(craterResultsFileName), &raw)
	type want struct {
		res        string
		runs       [2]string
		nameLogged string
	}
	wants := map[string]want{
		"regress":   {"regressed", [2]string{"test-pass", "build-fail:compiler-error(E0308)"}, "regress-1.0.0"},
		"mended":    {"fixed", [2]string{"build-fail:unknown", "test-pass"}, "mended-2.1.0"},
		"stuck":     {"build-fail", [2]string{"build-fail:depends-on(reg/serde/1.0.1)", "build-fail:depends-on(reg/serde/1.0.1)"}, "stuck-0.3.0"},
		"shattered": {"broken", [2]string{"broken:unknown", "broken:unknown"}, "shattered-1.0.0"},
		"plus":      {"test-pass", [2]string{"test-pass", "test-pass"}, "plus-1.0.0%2Bbuild.5"},
	}
	seen := map[string]bool{}
	for i, data := range raw.Crates {
		var c mirrorCrateResult
		decodeStrict(t, fmt.Sprintf("crates[%d]", i), data, &c, "status")
		if len(c.Krate) != 1 || c.Krate["Registry"] == nil {
			t.Fatalf("crates[%d].krate: want the one variant Registry: %s", i, data)
		}
		var reg mirrorRegistryCrate
		decodeStrict(t, "krate.Registry", c.Krate["Registry"], &reg)
		w, ok := wants[reg.Name]
		if !ok {
			t.Errorf("unexpected crate %s", reg.Name)
			continue
		}
		seen[reg.Name] = true
		if c.Name != reg.Name+"-"+reg.Version || c.URL != "https://crates.io/crates/"+reg.Name+"/"+reg.Version {
			t.Errorf("%s: name %q, url %q", reg.Name, c.Name, c.URL)
		}
		if c.Res != w.res || !slices.Contains(craterComparisons, c.Res) {
			t.Errorf("%s: res %q, want %q", reg.Name, c.Res, w.res)
		}
		if len(c.Runs) != 2 {
			t.Fatalf("%s: %d runs, want 2", reg.Name, len(c.Runs))
		}
		for j, run := range c.Runs {
			if run == nil {
				t.Errorf("%s: run %d null", reg.Name, j)
				continue
			}
			if run.Res != w.runs[j] || parseCraterTestResult(run.Res) != nil {
				t.Errorf("%s: run %d res %q, want %q", reg.Name, j, run.Res, w.runs[j])
			}
			tc := [2]string{"stable", "/opt/rust%2Bstage2"}[j]
			if wantLog := tc + "/reg/" + w.nameLogged; run.Log != wantLog {
				t.Errorf("%s: run %d log %q, want %q", reg.Name, j, run.Log, wantLog)
			}
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("crates %v, want %d", seen, len(wants))
	}

	var c mirrorExperiment
	decodeStrict(t, "config.json", cfg, &c)
	if c.Name != exp || c.Mode != "build-and-test" || c.CapLints != "forbid" || c.Priority != 3 || c.Status != "completed" || c.CompletedAt == nil {
		t.Errorf("config.json: %s", cfg)
	}
	if len(c.Toolchains) != 2 {
		t.Fatalf("config.json: %d toolchains, want 2", len(c.Toolchains))
	}
	for i, tc := range c.Toolchains {
		decodeStrict(t, fmt.Sprintf("toolchains[%d]", i), mustJSON(t, tc), &mirrorToolchain{})
		var src mirrorDistToolchain
		decodeStrict(t, fmt.Sprintf("toolchains[%d].source", i), tc.Source, &src)
		if want := []string{base, next}[i]; src.Type != "dist" || src.Name != want || tc.Patches == nil {
			t.Errorf("toolchains[%d]: source %+v, patches %v; want dist %s, []", i, src, tc.Patches, want)
		}
	}

	if got := string(file(craterRetryListFileName)); got != "regress\n" {
		t.Errorf("retry-regressed-list.txt: %q, want %q", got, "regress\n")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
