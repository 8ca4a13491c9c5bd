package streams

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSpuriousIsDecidedForEveryReason lists every reason of the vocabulary
// with whether it is spurious: a reason added to reasons.go without a
// decision here fails.
func TestSpuriousIsDecidedForEveryReason(t *testing.T) {
	want := map[Reason]bool{
		// The crate failed.
		ReasonUnknown:           false,
		ReasonICE:               false,
		ReasonCompilerError:     false,
		ReasonDependsOn:         false,
		ReasonUndefinedBehavior: false,
		// A limit was hit.
		ReasonOOM:                      true,
		ReasonNoSpace:                  true,
		ReasonTimeout:                  true,
		ReasonNoOutputTimeout:          true,
		ReasonNetworkAccess:            true,
		ReasonCompilerDiagnosticChange: true,
		// The farm failed.
		ReasonSandboxError:          true,
		ReasonLogUnavailable:        true,
		ReasonToolchainMissing:      true,
		ReasonComponentMissing:      true,
		ReasonDownloadFailed:        true,
		ReasonChecksumMismatch:      true,
		ReasonCrateSourceUnreadable: true,
		ReasonWorkspaceError:        true,
		ReasonUnsupportedMode:       true,
		ReasonExperimentAborted:     true,
		ReasonGaveUp:                true,
		// The farm's builders disagree.
		ReasonDisputed: true,
	}
	for _, r := range Reasons() {
		w, ok := want[r]
		if !ok {
			t.Errorf("reason %s: not decided here whether it is spurious", r)
			continue
		}
		if Spurious(r) != w {
			t.Errorf("Spurious(%s) = %v, want %v", r, Spurious(r), w)
		}
	}
	if len(want) != len(Reasons()) {
		t.Errorf("%d reasons decided here, the vocabulary has %d", len(want), len(Reasons()))
	}
	for r, w := range map[Reason]bool{
		CompilerError("E0308"):       false,
		DependsOn("serde"):           false,
		ComponentMissing("clippy"):   true,
		GaveUp(3):                    true,
		"gave up after 3 attempts":   true,
		"some-reason-crater-adds":    false,
		"some-reason-crater-adds(x)": false,
		"OOM":                        false,
		"docker":                     false, // crater's spelling; ejecta's is sandbox-error
	} {
		if Spurious(r) != w {
			t.Errorf("Spurious(%q) = %v, want %v", r, Spurious(r), w)
		}
	}
}

// TestSpuriousAgreesWithCrater checks every reason that has a crater name
// against crater's FailureReason::is_spurious (rust-lang/crater
// src/results/mod.rs at 102a0c7b0e4298e7f21c8e177120b6e143409d63).
func TestSpuriousAgreesWithCrater(t *testing.T) {
	craterSpurious := map[string]bool{
		"unknown": false, "oom": true, "no-space": true, "timeout": true, "ice": false,
		"network-access": true, "docker": true, "compiler-diagnostic-change": true,
		"compiler-error": false, "depends-on": false,
	}
	named := map[string]bool{}
	for _, r := range Reasons() {
		c := r.CraterName()
		if c == "" {
			continue
		}
		named[c] = true
		w, ok := craterSpurious[c]
		if !ok {
			t.Errorf("%s: crater name %q is not one of crater's", r, c)
		} else if Spurious(r) != w {
			t.Errorf("Spurious(%s) = %v, crater's %s: %v", r, Spurious(r), c, w)
		}
	}
	for c := range craterSpurious {
		if !named[c] {
			t.Errorf("crater's %s has no reason here", c)
		}
	}
	for r, c := range map[Reason]string{
		ReasonSandboxError: "docker", ReasonNoOutputTimeout: "timeout", CompilerError("E0308"): "compiler-error",
		ReasonLogUnavailable: "", "x": "",
	} {
		if got := r.CraterName(); got != c {
			t.Errorf("%s.CraterName() = %q, want %q", r, got, c)
		}
	}
}

func TestReasonConstructors(t *testing.T) {
	for _, tt := range []struct {
		got, want Reason
	}{
		{CompilerError("E0308", "E0277", "E0308"), "compiler-error(E0277,E0308)"},
		{CompilerError("clippy::approx_constant"), "compiler-error(clippy::approx_constant)"},
		{CompilerError(), ReasonUnknown},
		{CompilerError("", " "), ReasonUnknown},
		{DependsOn("b", "a"), "depends-on(a,b)"},
		{DependsOn("serde 1.0.0"), "depends-on(serde 1.0.0)"},
		// What a crate prints cannot break a reason's syntax.
		{DependsOn("x)(y", "ok", "a,b", "\x1b[31m"), "depends-on(ok)"},
		{DependsOn("x)(y"), ReasonUnknown},
		// Only crate names, with a version or not: a crate printing
		// "could not compile `@org/team`" names no one in a report.
		{DependsOn("@rust-lang/security"), ReasonUnknown},
		{DependsOn("serde@1.0.0", "serde_json v1.0.1", "@org", "#123", "a/b", "x@y", "www.evil.example", "https://evil.example"),
			"depends-on(serde@1.0.0,serde_json v1.0.1)"},
		{ComponentMissing("clippy"), "component-missing(clippy)"},
		{GaveUp(3), "gave-up(3)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
		if _, err := ParseReason(string(tt.got)); err != nil {
			t.Errorf("ParseReason(%q): %v", tt.got, err)
		}
	}

	// A list too long for a reason is cut, and still parses.
	var many []string
	for i := range 2000 {
		many = append(many, fmt.Sprintf("E%04d", i))
	}
	r := CompilerError(many...)
	if len(r) > MaxReasonBytes || !strings.HasSuffix(string(r), ",...)") || !strings.HasPrefix(string(r), "compiler-error(E0000,E0001,") {
		t.Errorf("CompilerError of 2000 codes: %d bytes, ...%s", len(r), r[max(0, len(r)-20):])
	}
	if _, err := ParseReason(string(r)); err != nil {
		t.Errorf("ParseReason(cut list): %v", err)
	}
	if r := DependsOn(strings.Repeat("a", MaxReasonBytes)); r != ReasonUnknown {
		t.Errorf("DependsOn(one name too long) = %.40q..., want unknown", r)
	}
}

func TestReasonKindAndArgs(t *testing.T) {
	for _, tt := range []struct {
		r    Reason
		kind Reason
		args []string
	}{
		{ReasonOOM, ReasonOOM, nil},
		{"compiler-error(E0277,E0308)", ReasonCompilerError, []string{"E0277", "E0308"}},
		// Crater separates arguments with ", ".
		{"compiler-error(E0277, E0308)", ReasonCompilerError, []string{"E0277", "E0308"}},
		{"depends-on(reg/clint/0.2.1)", ReasonDependsOn, []string{"reg/clint/0.2.1"}},
		{GaveUp(2), ReasonGaveUp, []string{"2"}},
		{"gave up after 2 attempts", ReasonGaveUp, []string{"2"}},
		{"", "", nil},
	} {
		if k := tt.r.Kind(); k != tt.kind {
			t.Errorf("%q.Kind() = %q, want %q", tt.r, k, tt.kind)
		}
		if a := tt.r.Args(); !slices.Equal(a, tt.args) {
			t.Errorf("%q.Args() = %q, want %q", tt.r, a, tt.args)
		}
	}
	if !ReasonOOM.Known() || !CompilerError("E1").Known() || Reason("docker").Known() || Reason("").Known() {
		t.Error("Known: want oom and compiler-error(...) known, docker and \"\" not")
	}
}

func TestParseReason(t *testing.T) {
	good := []string{
		"", "oom", "no-output-timeout", "ice", "compiler-error(E0308)", "compiler-error(E0277, E0308)",
		"depends-on(reg/clint/0.2.1)", "depends-on(serde 1.0.0,serde_json)", "component-missing(miri)",
		"gave-up(3)", "gave up after 1 attempts",
		// Well-formed reasons this build does not know are kept.
		"docker", "some-reason-crater-adds", "some-reason-crater-adds(a,b)",
	}
	for _, s := range good {
		r, err := ParseReason(s)
		if err != nil || string(r) != s {
			t.Errorf("ParseReason(%q) = %q, %v; want it back", s, r, err)
		}
	}
	bad := []string{
		"OOM", " oom", "oom ", "oom\n", "out of memory", "9lives", "-x", "é",
		"compiler-error", "depends-on", "gave-up", // need arguments
		"oom(x)", "unknown(x)", // take none
		"compiler-error(", "compiler-error(E0308", "compiler-error(E0308))", "compiler-error()",
		"compiler-error(a,,b)", "compiler-error(a(b))", "compiler-error(a )", "depends-on(a)b",
		"x(\x00)", "x(\xff)", "gave up after many attempts",
		strings.Repeat("a", 65), "x(" + strings.Repeat("a", MaxReasonBytes) + ")",
	}
	for _, s := range bad {
		if r, err := ParseReason(s); err == nil {
			t.Errorf("ParseReason(%q) = %q, want an error", s, r)
		}
	}
}

// TestResultReasonIsValidated: a result is refused for a malformed reason,
// kept with one this build does not know.
func TestResultReasonIsValidated(t *testing.T) {
	res := func(reason string) string {
		return `{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"stable","attempt":1,` +
			`"status":"build-fail","reason":"` + reason + `","exit_code":101,"duration_ms":1,"builder":"b","log_key":"logs/stable/c/1%2E0%2E0/1.log","finished_at":"2026-01-01T00:00:00Z"}`
	}
	for reason, ok := range map[string]bool{
		"compiler-error(E0308)": true, "some-new-reason": true, "": true,
		"compiler-error(E0308": false, "Out Of Memory": false,
	} {
		var r Result
		err := Decode([]byte(res(reason)), &r)
		if ok && (err != nil || r.Reason != Reason(reason)) {
			t.Errorf("result with reason %q: %v (%q), want it kept", reason, err, r.Reason)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "reason")) {
			t.Errorf("result with reason %q: %v, want refused for its reason", reason, err)
		}
	}

	k := BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}
	up := UploadRequest{V: SchemaVersion, BuildKey: k, Attempt: 1, End: LogEnd{Status: StatusBuildFail, Reason: "x("}}
	if err := up.Validate(); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Errorf("upload request whose log end has reason x(: %v, want refused", err)
	}
}
