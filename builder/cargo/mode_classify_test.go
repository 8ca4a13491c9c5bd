package cargo

import (
	"os"
	"path/filepath"
	"testing"
)

func diagnose(t *testing.T, file string) *diagnostics {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "output", file))
	if err != nil {
		t.Fatal(err)
	}
	d := newDiagnostics()
	w := d.writer()
	// Line by line would hide a bug in the splitting: feed odd pieces.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 7)
		w.Write(rest[:n])
		rest = rest[n:]
	}
	return d
}

// The samples were captured from real cargo runs on testdata/crates
// (CARGO_TERM_COLOR=always) and from rustup asked for a missing component.
func TestDiagnosticsModes(t *testing.T) {
	for _, tt := range []struct {
		file, crate, reason, component string
		noTests                        bool
	}{
		// A denied lint is named as crater names it from the JSON code.
		{file: "clippy-approx-constant.txt", crate: "ejecta-mode-clippy", reason: "compiler-error(clippy::approx_constant)"},
		{file: "rustdoc-broken-link.txt", crate: "ejecta-mode-rustdoc", reason: "compiler-error(rustdoc::broken_intra_doc_links)"},
		{file: "component-missing-miri.txt", crate: "cfg-if", reason: "unknown", component: "miri"},
		{file: "test-no-tests.txt", crate: "ejecta-mode-notests", reason: "unknown", noTests: true},
		{file: "test-fail.txt", crate: "ejecta-testfail", reason: "unknown"},
		{file: "check-typeerr.txt", crate: "ejecta-typeerr", reason: "compiler-error(E0308)"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			d := diagnose(t, tt.file)
			if got := d.reason(tt.crate); string(got) != tt.reason {
				t.Errorf("reason = %q, want %q", got, tt.reason)
			}
			if got := d.missingComponent(); got != tt.component {
				t.Errorf("missingComponent = %q, want %q", got, tt.component)
			}
			if got := d.noTests(); got != tt.noTests {
				t.Errorf("noTests = %v, want %v", got, tt.noTests)
			}
		})
	}
}

func TestDiagnosticsLintNotes(t *testing.T) {
	for _, tt := range []struct {
		lines []string
		want  string
	}{
		{[]string{"  = note: `-D clippy::needless-return` implied by `-D warnings`"}, "compiler-error(clippy::needless_return)"},
		{[]string{"  = note: `#[deny(unused_variables)]` implied by `#[deny(warnings)]`"}, "compiler-error(unused_variables)"},
		{[]string{"  = note: `#[warn(unused_variables)]` on by default"}, "unknown"}, // a warning's note
		{[]string{"note: the lint level is defined here", " --> src/lib.rs:1:9", "  |", "1 | #![deny(missing_docs)]"}, "compiler-error(missing_docs)"},
		// Only the quoted line right after the note counts.
		{[]string{"note: the lint level is defined here", "a", "b", "c", "d", "1 | #![deny(missing_docs)]"}, "unknown"},
	} {
		d := newDiagnostics()
		for _, l := range tt.lines {
			d.line([]byte(l))
		}
		if got := d.reason("c"); string(got) != tt.want {
			t.Errorf("%q: reason %q, want %q", tt.lines, got, tt.want)
		}
	}
}

// A test without libtest's harness prints no "running N tests" header: a
// run whose other binaries ran 0 tests still ran it, so the crate has tests.
func TestDiagnosticsHarnessFalseTestCounts(t *testing.T) {
	run := "     Running unittests src/lib.rs (target/debug/deps/x-1)\n\nrunning 0 tests\n\n" +
		"test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n"
	for _, tt := range []struct {
		name, out string
		noTests   bool
	}{
		{"only empty harnesses", run + "   Doc-tests x\n\nrunning 0 tests\n\n", true},
		{"a harness = false test", run + "     Running tests/spew.rs (target/debug/deps/spew-2)\nspew: done\n   Doc-tests x\n\nrunning 0 tests\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDiagnostics()
			d.writer().Write([]byte(tt.out))
			if got := d.noTests(); got != tt.noTests {
				t.Errorf("noTests = %v, want %v", got, tt.noTests)
			}
		})
	}
}
