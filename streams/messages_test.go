package streams

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeJobNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"garbage", `not json`, "decode"},
		{"unknown field", `{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"/r","color":"red"}`, `unknown field "color"`},
		{"version", `{"v":2}`, "unsupported schema version"},
		{"experiment", `{"v":1,"experiment":"E X","crate":"c","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"/r"}`, "experiment name"},
		{"crate", `{"v":1,"experiment":"e","crate":"../c","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"/r"}`, "crate name"},
		{"semver", `{"v":1,"experiment":"e","crate":"c","version":"1.0","toolchain":"stable","mode":"check-only","crate_source":"/r"}`, "version"},
		{"toolchain", `{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"+x;rm","mode":"check-only","crate_source":"/r"}`, "toolchain"},
		{"mode", `{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"stable","mode":"fuzz","crate_source":"/r"}`, "unknown mode"},
		{"source", `{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"rel"}`, "crate_source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j Job
			err := Decode([]byte(tc.json), &j)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var j Job
	if err := Decode([]byte(`{"v":3}`), &j); !errors.Is(err, ErrSchemaVersion) {
		t.Errorf("Decode of v=3: %v, want ErrSchemaVersion", err)
	}
	ok := `{"v":1,"experiment":"e","crate":"cfg-if","version":"1.0.0","toolchain":"nightly","mode":"build-and-test","crate_source":"/r"}`
	if err := Decode([]byte(ok), &j); err != nil || j.Crate != "cfg-if" {
		t.Fatalf("Decode(valid) = %v (%+v)", err, j)
	}
}

func TestExperimentValidate(t *testing.T) {
	base := func() Experiment {
		return Experiment{V: 1, Name: "e1", Toolchains: []string{"stable", "nightly"}, Mode: ModeCheckOnly, Crates: 2, Jobs: 4}
	}
	for _, tc := range []struct {
		name string
		mut  func(*Experiment)
		want string
	}{
		{"ok", func(*Experiment) {}, ""},
		{"one toolchain", func(e *Experiment) { e.Toolchains = []string{"stable"} }, "want exactly two"},
		{"same toolchain", func(e *Experiment) { e.Toolchains = []string{"stable", "stable"} }, "two different"},
		{"mode", func(e *Experiment) { e.Mode = "x" }, "mode"},
		{"cap lints", func(e *Experiment) { e.CapLints = "loud" }, "cap-lints"},
		{"name", func(e *Experiment) { e.Name = "A" }, "experiment name"},
	} {
		e := base()
		tc.mut(&e)
		err := e.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A result names its builder and its log, both bounded: a result held while
// its experiment's record is awaited costs what its fields hold, and a
// builder credential must not make one of 60 KiB, nor link another build's
// log from the report.
func TestResultValidateBoundsBuilderAndLogKey(t *testing.T) {
	k := BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "nightly"}
	base := func() Result {
		return Result{V: 1, BuildKey: k, Attempt: 2, Status: StatusTestPass, Builder: "host-1", LogKey: LogObjectKey(k, 2)}
	}
	other := k
	other.Crate = "d"
	for _, tc := range []struct {
		name string
		mut  func(*Result)
		want string
	}{
		{"ok", func(*Result) {}, ""},
		{"no log", func(r *Result) { r.LogKey = "" }, ""},
		{"no builder", func(r *Result) { r.Builder = "" }, "builder id"},
		{"long builder", func(r *Result) { r.Builder = strings.Repeat("B", 60_000) }, "builder id"},
		{"builder markup", func(r *Result) { r.Builder = "<b>" }, "builder id"},
		{"another build's log", func(r *Result) { r.LogKey = LogObjectKey(other, 2) }, "log_key"},
		{"another attempt's log", func(r *Result) { r.LogKey = LogObjectKey(k, 1) }, "log_key"},
		{"long log key", func(r *Result) { r.LogKey = "logs/" + strings.Repeat("x", 60_000) }, "log_key"},
	} {
		r := base()
		tc.mut(&r)
		err := r.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 512 {
			t.Errorf("%s: %.600v, want a short error naming %q", tc.name, err, tc.want)
		}
	}
	// An upload request names no builder.
	u := UploadRequest{V: 1, BuildKey: k, Attempt: 1}
	if err := u.Validate(); err != nil {
		t.Errorf("upload request: %v", err)
	}
}

func TestResultSharedTarget(t *testing.T) {
	k := BuildKey{Experiment: "e", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly"}
	for _, tc := range []struct {
		attempt int
		ok      bool
	}{
		{1, true},
		{3, true},
		// A retry generation's own run may reuse one too; its non-same
		// verdicts are confirmed like the first run's.
		{RetryAttemptBase(1) + 1, true},
		// A confirmation re-run never does.
		{RerunAttemptBase(1) + 1, false},
		{AttemptBase(1, 2) + 1, false},
	} {
		r := Result{V: 1, BuildKey: k, Attempt: tc.attempt, Status: StatusTestPass, Builder: "b1", SharedTarget: true}
		err := r.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("attempt %d with a shared target: Validate = %v, want ok=%v", tc.attempt, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "shared_target") {
			t.Errorf("attempt %d: error %q does not name the field", tc.attempt, err)
		}
		r.SharedTarget = false
		if err := r.Validate(); err != nil {
			t.Errorf("attempt %d without a shared target: %v", tc.attempt, err)
		}
	}
}
