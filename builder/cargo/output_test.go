package cargo

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// testLog is a log as the chunker keeps it: both streams in one byte
// sequence, its lines counted.
type testLog struct {
	mu  sync.Mutex
	all bytes.Buffer
}

func (l *testLog) stream() *testStream { return &testStream{l: l} }

func (l *testLog) Line() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Count(l.all.Bytes(), newline) + 1
}

// lineText is log line n without colours.
func (l *testLog) lineText(n int) string {
	lines := strings.Split(l.all.String(), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return stripANSI([]byte(lines[n-1]))
}

type testStream struct {
	l   *testLog
	own bytes.Buffer
}

func (s *testStream) Write(p []byte) (int, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.own.Write(p)
	return s.l.all.Write(p)
}

// runOutput feeds a step's recorded stdout, then its stderr, in random
// pieces (lines arrive split across writes), through the step's writers.
func runOutput(t *testing.T, name string, json bool) (*diagnostics, *testLog, *testStream, *testStream) {
	t.Helper()
	log := &testLog{}
	stdout, stderr := log.stream(), log.stream()
	d := newDiagnostics()
	d.json = json
	out, errw := newStepOutput(Log{Stdout: stdout, Stderr: stderr, Line: log.Line}, d, json)
	for _, f := range []struct {
		ext string
		w   interface{ Write([]byte) (int, error) }
	}{{".stdout", out}, {".stderr", errw}} {
		data, err := os.ReadFile(filepath.Join("testdata", "json", name+f.ext))
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rand.IntN(200))
			if k, err := f.w.Write(rest[:n]); k != n || err != nil {
				t.Fatalf("write: %d, %v", k, err)
			}
			rest = rest[n:]
		}
	}
	return d, log, stdout, stderr
}

// The samples in testdata/json were recorded from real cargo runs under
// jsonFormat with CARGO_TERM_COLOR=always, stdout and stderr apart: check
// on a wrapper package depending on the fixtures in
// builder/testdata/registry (check-ice-nightly on nightly with RUSTFLAGS="-Z
// treat-err-as-bug=1", which makes rustc panic on its first error), and
// clippy, doc and test on the crates in testdata/crates as the root
// package, as the builder runs its modes.
func TestJSONReason(t *testing.T) {
	for _, tc := range []struct {
		name, crate, reason string
		first               *streams.FirstError // LogLine: a log line says "error" there
		noTests             bool
	}{
		{name: "check-pass", crate: "ejecta-testfail", reason: "unknown"},
		{name: "check-typeerr", crate: "ejecta-typeerr", reason: "compiler-error(E0308)",
			first: &streams.FirstError{Code: "E0308", Message: "mismatched types", File: "ejecta-typeerr-0.1.0/src/lib.rs", Line: 4}},
		{name: "check-multierr", crate: "ejecta-multierr", reason: "compiler-error(E0308,E0425)",
			first: &streams.FirstError{Code: "E0425", Message: "cannot find value `not_defined_anywhere` in this scope", File: "ejecta-multierr-0.1.0/src/lib.rs", Line: 8}},
		// The error is in a dependency: the package of its diagnostic.
		{name: "check-depends-on", crate: "ejecta-usesbad", reason: "depends-on(ejecta-typeerr)",
			first: &streams.FirstError{Code: "E0308", Message: "mismatched types", File: "ejecta-typeerr-0.1.0/src/lib.rs", Line: 4}},
		// The ICE's diagnostic is JSON at level "error: internal compiler
		// error"; the panic after it is text on stderr.
		{name: "check-ice-nightly", crate: "ejecta-typeerr", reason: "ice",
			first: &streams.FirstError{Code: "E0308", Message: "mismatched types", File: "ejecta-typeerr-0.1.0/src/lib.rs", Line: 4}},
		// A denied lint's code is its name.
		{name: "clippy-approx-constant", crate: "ejecta-mode-clippy", reason: "compiler-error(clippy::approx_constant)",
			first: &streams.FirstError{Code: "clippy::approx_constant", Message: "approximate value of `f{32, 64}::consts::PI` found", File: "ejecta-mode-clippy-0.1.0/src/lib.rs", Line: 5}},
		{name: "rustdoc-broken-link", crate: "ejecta-mode-rustdoc", reason: "compiler-error(rustdoc::broken_intra_doc_links)",
			first: &streams.FirstError{Code: "rustdoc::broken_intra_doc_links", Message: "unresolved link to `NoSuchItem`", File: "ejecta-mode-rustdoc-0.1.0/src/lib.rs", Line: 5}},
		// No diagnostic: cargo's own error line is the first error.
		{name: "test-fail", crate: "ejecta-testfail", reason: "unknown",
			first: &streams.FirstError{Message: "test failed, to rerun pass `--lib`"}},
		{name: "test-no-tests", crate: "ejecta-mode-notests", reason: "unknown", noTests: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, log, stdout, _ := runOutput(t, tc.name, true)
			if got := d.reason(tc.crate); string(got) != tc.reason {
				t.Errorf("reason = %q, want %q", got, tc.reason)
			}
			if got := d.noTests(); got != tc.noTests {
				t.Errorf("noTests = %v, want %v", got, tc.noTests)
			}
			got := d.firstError()
			if tc.first == nil {
				if got != nil {
					t.Errorf("first error %+v, want none", got)
				}
			} else if got == nil {
				t.Errorf("no first error, want %+v", tc.first)
			} else {
				if l := log.lineText(got.LogLine); !strings.HasPrefix(l, "error") || !strings.Contains(l, tc.first.Message) {
					t.Errorf("first error at log line %d, which reads %q", got.LogLine, l)
				}
				want := *tc.first
				want.LogLine = got.LogLine
				if *got != want {
					t.Errorf("first error %+v, want %+v", *got, want)
				}
				if err := got.Validate(); err != nil {
					t.Error(err)
				}
			}
			// No JSON reaches the log.
			if strings.Contains(log.all.String(), `{"reason":`) {
				t.Errorf("the log shows cargo's JSON:\n%s", log.all.String())
			}
			if strings.HasPrefix(tc.name, "test-") && !strings.Contains(stdout.own.String(), "test result:") {
				t.Errorf("the tests' output is not in the log's stdout:\n%s", stdout.own.String())
			}
		})
	}
}

// The log reads as without jsonFormat: the rendered diagnostics are the
// text rustc printed in the run recorded without it
// (testdata/output/check-multierr.txt, from another checkout).
func TestJSONRenderedAsText(t *testing.T) {
	_, log, _, _ := runOutput(t, "check-multierr", true)
	human, err := os.ReadFile(filepath.Join("testdata", "output", "check-multierr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(human), "/work/main/", "/work/wt-diagnostics/")
	got := log.all.String()
	cut := strings.Index(got, "\x1b[1m\x1b[92m    Checking")
	if cut < 0 {
		t.Fatalf("no Checking line in\n%s", got)
	}
	rendered := got[:cut] // stdout was fed first: every diagnostic
	if !strings.Contains(text, rendered) || strings.Count(rendered, "error[") != 3 {
		t.Errorf("rendered diagnostics\n%s\nare not the text rustc printed\n%s", rendered, text)
	}
}

// Hostile output: what is not one of cargo's messages reaches the log as
// it was written, and the builder holds a bounded part of one line.
func TestJSONStreamHostile(t *testing.T) {
	msg, err := os.ReadFile(filepath.Join("testdata", "json", "check-typeerr.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	firstMsg, _, _ := bytes.Cut(msg, newline)
	huge := append([]byte(`{"reason":"compiler-message","x":"`), bytes.Repeat([]byte("a"), 3*maxMessageLine)...)
	for _, tc := range []struct {
		name, in, log string
		reason        string
	}{
		{"not JSON", "{ not json\n", "{ not json\n", "unknown"},
		{"another reason", `{"reason":"made-up","message":{"level":"error","code":{"code":"E0001"}}}` + "\n", `{"reason":"made-up","message":{"level":"error","code":{"code":"E0001"}}}` + "\n", "unknown"},
		{"unterminated", `{"reason":"compiler-message"`, "", "unknown"},
		{"a line over the bound, then a message", string(huge) + "\"}\n" + string(firstMsg) + "\n", string(huge) + "\"}\n", "compiler-error(E0308)"},
		// Once the build finished, a test's output is text, whatever it prints.
		{"a test forging a message", `{"reason":"build-finished","success":true}` + "\n" + string(firstMsg) + "\n", string(firstMsg) + "\n", "unknown"},
		{"text between", "plain\n" + string(firstMsg) + "\nmore {\n", "plain\n", "compiler-error(E0308)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &testLog{}
			stdout, stderr := log.stream(), log.stream()
			d := newDiagnostics()
			d.json = true
			out, _ := newStepOutput(Log{Stdout: stdout, Stderr: stderr, Line: log.Line}, d, true)
			in := []byte(tc.in)
			for len(in) > 0 {
				n := min(len(in), 1+rand.IntN(64<<10))
				out.Write(in[:n])
				in = in[n:]
			}
			if !strings.HasPrefix(stdout.own.String(), tc.log) {
				t.Errorf("log's stdout starts %s, want %s", streams.Bounded(stdout.own.String()), streams.Bounded(tc.log))
			}
			if got := d.reason("ejecta-typeerr"); string(got) != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			if s := out.(*jsonStream); cap(s.buf) > maxMessageLine+64<<10 {
				t.Errorf("holds %d bytes", cap(s.buf))
			}
		})
	}
}

// A diagnostic rendered past the log's cap is not in the log as
// published: its log line is unknown.
func TestJSONFirstErrorPastCap(t *testing.T) {
	msg, err := os.ReadFile(filepath.Join("testdata", "json", "check-typeerr.stdout"))
	if err != nil {
		t.Fatal(err)
	}
	held := &testLog{}
	d := newDiagnostics()
	d.json = true
	// The cap keeps the bytes for later: the log's line does not move.
	out, _ := newStepOutput(Log{Stdout: held.stream(), Stderr: discard{}, Line: func() int { return 7 }}, d, true)
	out.Write(msg)
	if e := d.firstError(); e == nil || e.LogLine != 0 || e.Code != "E0308" {
		t.Errorf("first error %+v, want E0308 at no log line", e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestPackageOf(t *testing.T) {
	for _, tc := range []struct{ id, name, version string }{
		{"registry+https://github.com/rust-lang/crates.io-index#ejecta-typeerr@0.1.0", "ejecta-typeerr", "0.1.0"},
		{"path+file:///tmp/w/ejecta-wrapper#0.0.0", "ejecta-wrapper", "0.0.0"},
		{"path+file:///tmp/diagrec/w/test-fail#ejecta-testfail@0.1.0", "ejecta-testfail", "0.1.0"},
		{"serde 1.0.210 (registry+https://github.com/rust-lang/crates.io-index)", "serde", "1.0.210"},
		{"", "", ""},
	} {
		if n, v := packageOf(tc.id); n != tc.name || v != tc.version {
			t.Errorf("packageOf(%q) = %q, %q", tc.id, n, v)
		}
	}
}

func BenchmarkJSONStream(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "json", "check-multierr.stdout"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d := newDiagnostics()
		d.json = true
		out, _ := newStepOutput(Log{Stdout: discard{}, Stderr: discard{}}, d, true)
		out.Write(data)
	}
}
