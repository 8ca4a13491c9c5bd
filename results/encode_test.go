package results

import (
	"encoding/json"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// TestAppendJSON checks that the hand-written encoder writes what
// json.Marshal writes, for every optional field set and unset and for
// strings that need escaping.
func TestAppendJSON(t *testing.T) {
	fe := &streams.FirstError{Code: "E0308", Message: "mismatched <types> & \"quotes\" \\ é\u2028\x01\xff", File: "a-1.0.0/src/lib.rs", Line: 3, LogLine: 17}
	run := RunResult{Toolchain: "stable", Status: streams.StatusBuildFail, Reason: "compiler-error(E0308)",
		Attempt: 1001, ExitCode: -1, DurationMS: 1 << 40, Log: "logs/stable/a/1%2E0%2E0/1.log"}
	for _, tc := range []struct {
		name string
		c    CrateResult
	}{
		{"empty", CrateResult{}},
		{"no results", CrateResult{Name: "a", Version: "1.0.0", Class: ClassPending, Results: []RunResult{}}},
		{"plain", CrateResult{Name: "a", Version: "1.0.0+b-1", Class: ClassRegressed, Note: "a note",
			Results: []RunResult{run, {Toolchain: "nightly"}}}},
		{"every field", CrateResult{Name: "A_b", Version: "0.1.0-rc.1", Class: ClassRegressed, Note: "x <y> & z",
			Root: "dep", Confirmation: "confirmed", KnownFrom: "last-week",
			Results: []RunResult{{Toolchain: "stable", SharedTarget: true, FirstError: fe}, run},
			Reruns:  [][]RunResult{{run}, {}, nil}}},
		{"first error, fewest fields", CrateResult{Results: []RunResult{{FirstError: &streams.FirstError{}}}}},
		{"empty reruns", CrateResult{Reruns: [][]RunResult{}}},
	} {
		want, err := json.Marshal(&tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.c.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("%s:\ngot  %s\nwant x%s", tc.name, got, want)
		}
	}
}
