// Package cratertest decodes a crater view the way crater's consumers do,
// for the tests of the packages that write one: crater's serde types
// mirrored and decoded strictly, crater's parsers of its strings, and
// Check, which reads a whole view back and compares every log in it with
// ejecta's own.
package cratertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// The types below mirror crater's serde definitions (rust-lang/crater
// src/report/mod.rs RawTestResults, CrateResult, BuildTestResult;
// src/crates/mod.rs Crate, RegistryCrate; src/experiments.rs Experiment;
// src/toolchain.rs Toolchain; rustwide's Toolchain). DecodeStrict decodes
// into them as serde would: an unknown or misspelt field, or a missing one,
// is an error.

type RawTestResults struct {
	Crates []json.RawMessage `json:"crates"`
}

type CrateResult struct {
	Name   string                     `json:"name"`
	URL    string                     `json:"url"`
	Krate  map[string]json.RawMessage `json:"krate"` // externally tagged
	Status *string                    `json:"status"`
	Res    string                     `json:"res"`
	Runs   []*BuildTestResult         `json:"runs"` // [Option<BuildTestResult>; 2]
}

type RegistryCrate struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type BuildTestResult struct {
	Res string `json:"res"`
	Log string `json:"log"`
}

type Experiment struct {
	Name            string           `json:"name"`
	Toolchains      []Toolchain      `json:"toolchains"`
	Mode            string           `json:"mode"`
	CapLints        string           `json:"cap_lints"`
	Priority        int32            `json:"priority"`
	CreatedAt       time.Time        `json:"created_at"`
	StartedAt       *time.Time       `json:"started_at"`
	CompletedAt     *time.Time       `json:"completed_at"`
	GitHubIssue     *json.RawMessage `json:"github_issue"`
	Status          string           `json:"status"`
	AssignedTo      *json.RawMessage `json:"assigned_to"`
	ReportURL       *string          `json:"report_url"`
	IgnoreBlacklist bool             `json:"ignore_blacklist"`
	Requirement     *string          `json:"requirement"`
}

type Toolchain struct {
	Source       json.RawMessage   `json:"source"`
	Target       *string           `json:"target"`
	Rustflags    *string           `json:"rustflags"`
	Rustdocflags *string           `json:"rustdocflags"`
	Cargoflags   *string           `json:"cargoflags"`
	CITry        bool              `json:"ci_try"`
	Patches      []json.RawMessage `json:"patches"`
}

type DistToolchain struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// MustDecode is DecodeStrict, failing t with what was decoded.
func MustDecode(t testing.TB, what string, data []byte, v any, optional ...string) {
	t.Helper()
	if err := DecodeStrict(data, v, optional...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, data)
	}
}

// DecodeStrict decodes data into v as serde does into a struct without
// defaults: every field of v present, no other. Pointers are serde's
// Options, which may be absent only where crater skips them (optional).
func DecodeStrict(data []byte, v any, optional ...string) error {
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

// jsonFields lists the json names of v's struct fields.
func jsonFields(v any) []string {
	data, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	return slices.Sorted(maps.Keys(m))
}

// Comparisons are crater's Comparison values as it serializes them.
var Comparisons = []string{"regressed", "fixed", "skipped", "unknown", "error", "broken", "prepare-fail",
	"build-fail", "test-fail", "test-skipped", "test-pass", "spurious-regressed", "spurious-fixed"}

// ParseTestResult is crater's TestResult::from_str.
func ParseTestResult(s string) error {
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
		return parseFailureReason(reason)
	}
	return fmt.Errorf("%q: unknown test result", s)
}

// parseFailureReason is crater's FailureReason::from_str.
func parseFailureReason(s string) error {
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
