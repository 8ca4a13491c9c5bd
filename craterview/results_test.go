package craterview

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/craterview/cratertest"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

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
		if err := cratertest.DecodeStrict([]byte(tt.data), &cratertest.BuildTestResult{}); (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want ok=%v", tt.data, err, tt.ok)
		}
	}
}

// TestCraterTestResult round-trips every status with every reason ejecta
// knows through crater's parser, and checks the ones crater spells out.
func TestTestResult(t *testing.T) {
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
			if got := TestResult(s, r); cratertest.ParseTestResult(got) != nil {
				t.Errorf("%s %q: %q: %v", s, r, got, cratertest.ParseTestResult(got))
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
		if got := TestResult(tt.status, tt.reason); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.status, tt.reason, got, tt.want)
		}
	}
}

// TestLogPath checks crater's encoding of log paths and keys: the log
// path keeps its three parts, decodes to the key as an HTTP server or a
// reader of the store decodes it, and its parts decode back to the
// toolchain and the crate.
func TestLogPath(t *testing.T) {
	tests := []struct {
		tc, name, version, wantLog, wantKey string
	}{
		{"stable", "foo", "1.0.0", "stable/reg/foo-1.0.0", "stable/reg/foo-1.0.0/log.txt"},
		{"nightly-2026-12-01", "serde_json", "1.0.133", "nightly-2026-12-01/reg/serde_json-1.0.133",
			"nightly-2026-12-01/reg/serde_json-1.0.133/log.txt"},
		{"stable", "foo", "1.0.0+build.5", "stable/reg/foo-1.0.0%2Bbuild.5", "stable/reg/foo-1.0.0+build.5/log.txt"},
		{"/opt/rust+stage2", "foo", "1.0.0-rc.1", "%252Fopt%252Frust%2Bstage2/reg/foo-1.0.0-rc.1",
			"%2Fopt%2Frust+stage2/reg/foo-1.0.0-rc.1/log.txt"},
		{"a b#c?d{e}`<f>\"", "x", "1.0.0", "a%20b%23c%253Fd%7Be%7D%60%253Cf%253E%2522/reg/x-1.0.0",
			"a b#c%3Fd{e}`%3Cf%3E%22/reg/x-1.0.0/log.txt"},
		{"tc\x01é", "x", "1.0.0", "tc%2501%25C3%25A9/reg/x-1.0.0", "tc%01%C3%A9/reg/x-1.0.0/log.txt"},
	}
	for _, tt := range tests {
		log, key := LogPath(tt.tc, tt.name, tt.version), LogKey(tt.tc, tt.name, tt.version)
		if log != tt.wantLog || key != tt.wantKey {
			t.Errorf("%q %s@%s: log %q, key %q; want %q, %q", tt.tc, tt.name, tt.version, log, key, tt.wantLog, tt.wantKey)
		}
		if dec, err := url.PathUnescape(log); err != nil || dec+"/log.txt" != key {
			t.Errorf("%q decodes to %q (%v), want the key %q", log, dec, err, key)
		}
		parts := strings.Split(log, "/")
		if len(parts) != 3 || parts[1] != "reg" {
			t.Fatalf("%q: want <toolchain>/reg/<crate>", log)
		}
		tc, err1 := unescapeTwice(parts[0])
		crate, err2 := unescapeTwice(parts[2])
		if err1 != nil || err2 != nil || tc != tt.tc || crate != tt.name+"-"+tt.version {
			t.Errorf("%q decodes to %q and %q (%v, %v)", log, tc, crate, err1, err2)
		}
	}
}

// unescapeTwice decodes a log path's part to its key part, then to the
// name.
func unescapeTwice(s string) (string, error) {
	s, err := url.PathUnescape(s)
	if err != nil {
		return "", err
	}
	return url.PathUnescape(s)
}

// TestArchiveEntry checks that an archive entry comes apart as crater's
// triage reads it: <comparison>/reg/<name>/<version>/<toolchain>.txt.
func TestArchiveEntry(t *testing.T) {
	for _, tc := range []string{"stable", "nightly-2026-12-01", "/opt/rust+stage2"} {
		e := ArchiveEntry("regressed", tc, "foo", "1.0.0+build.5")
		p := strings.Split(e, "/")
		if len(p) != 5 || p[0] != "regressed" || p[1] != "reg" || p[2] != "foo" || p[3] != "1.0.0+build.5" {
			t.Fatalf("%q: want regressed/reg/foo/1.0.0+build.5/<toolchain>.txt", e)
		}
		if got, err := url.PathUnescape(strings.TrimSuffix(p[4], ".txt")); err != nil || got != tc {
			t.Errorf("%q: toolchain %q (%v), want %q", e, got, err, tc)
		}
	}
}

// crateResult and the types below are crater's CrateResult as Go types:
// AppendCrateEntry must write what json.Marshal writes of them.
type crateResult struct {
	Name  string  `json:"name"`
	URL   string  `json:"url"`
	Krate krate   `json:"krate"`
	Res   string  `json:"res"`
	Runs  [2]*run `json:"runs"`
}

type krate struct {
	Registry registryCrate `json:"Registry"`
}

type registryCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type run struct {
	Res string `json:"res"`
	Log string `json:"log"`
}

func TestAppendCrateEntry(t *testing.T) {
	for _, tc := range []struct {
		name, version string
		class         results.Class
		runs          [2]*Run
	}{
		{"a", "1.0.0", results.ClassPending, [2]*Run{}},
		{"A_b", "1.0.0-rc.1+build<&>", results.ClassRegressed, [2]*Run{
			{Toolchain: "stable", Status: streams.StatusTestPass},
			{Toolchain: "nightly-2026-01-01", Status: streams.StatusBuildFail, Reason: streams.DependsOn("serde@1.0.1")}}},
		{"x", "0.1.0", results.ClassSpuriousFixed, [2]*Run{nil, {Toolchain: "beta", Status: streams.StatusError, Reason: "oom"}}},
	} {
		c := crateResult{Name: tc.name + "-" + tc.version, URL: "https://crates.io/crates/" + tc.name + "/" + tc.version,
			Krate: krate{registryCrate{tc.name, tc.version}}, Res: tc.class.CraterName()}
		for i, r := range tc.runs {
			if r != nil {
				c.Runs[i] = &run{Res: TestResult(r.Status, r.Reason), Log: LogPath(r.Toolchain, tc.name, tc.version)}
			}
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendCrateEntry([]byte("x"), tc.name, tc.version, tc.class, tc.runs); string(got) != "x"+string(want) {
			t.Errorf("%s@%s:\ngot  %s\nwant x%s", tc.name, tc.version, got, want)
		}
	}
}
