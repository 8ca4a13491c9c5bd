package streams

import (
	"strings"
	"testing"
)

func TestFirstErrorValidate(t *testing.T) {
	long := strings.Repeat("é", MaxFirstErrorMessage)
	for _, tc := range []struct {
		name  string
		e     FirstError
		field string // "" when valid
	}{
		{"code and location", FirstError{Code: "E0308", Message: "mismatched types", File: "ejecta-typeerr-0.1.0/src/lib.rs", Line: 4, LogLine: 12}, ""},
		{"a lint", FirstError{Code: "clippy::approx_constant", Message: "approximate value of `f{32, 64}::consts::PI` found"}, ""},
		{"no message", FirstError{Code: "E0308"}, "message"},
		{"two lines", FirstError{Message: "a\nb"}, "message"},
		{"colours", FirstError{Message: "\x1b[1merror\x1b[0m"}, "message"},
		{"too long", FirstError{Message: long}, "message"},
		{"a code with spaces", FirstError{Code: "E0308 ", Message: "m"}, "code"},
		{"a line without a file", FirstError{Message: "m", Line: 3}, "line"},
		{"negative log line", FirstError{Message: "m", LogLine: -1}, "log_line"},
		{"a file with a newline", FirstError{Message: "m", File: "src/\nlib.rs"}, "file"},
	} {
		err := tc.e.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%s: Validate = %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}

// NewFirstError makes whatever a build printed into a valid FirstError.
func TestNewFirstError(t *testing.T) {
	e := NewFirstError("not a code!", "\x1b[1mmismatched\ttypes\x1b[0m\n  "+strings.Repeat("x", 2*MaxFirstErrorMessage), "src/lib.rs", 4, 17)
	if err := e.Validate(); err != nil {
		t.Fatalf("%+v: %v", e, err)
	}
	if e.Code != "" || !strings.HasPrefix(e.Message, "[1mmismatched types[0m x") || len(e.Message) > MaxFirstErrorMessage {
		t.Errorf("got %+v", e)
	}
	if got := e.Location(); got != "src/lib.rs:4" {
		t.Errorf("Location = %q", got)
	}
	if NewFirstError("E0308", " \x00 ", "", 0, 0) != nil {
		t.Error("an empty message made a FirstError")
	}
	r := Result{V: 1, BuildKey: BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}, Attempt: 1,
		Status: StatusBuildFail, Reason: "compiler-error(E0308)", Builder: "b1", FirstError: &FirstError{Message: "m", Line: 2}}
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "first_error") {
		t.Errorf("result with a bad first error: %v", err)
	}
}
