package cargo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// The samples in testdata/output were captured from real cargo runs on the
// fixtures in builder/testdata/registry (CARGO_TERM_COLOR=always unless named
// -nocolor); check-ice-nightly.txt comes from nightly with
// RUSTFLAGS="-Z treat-err-as-bug=1", the one reliable way to make rustc panic.
// check-network.txt ran under `unshare -n`; check-no-space.txt with
// CARGO_TARGET_DIR on a 20 MiB tmpfs.
func TestDiagnosticsReason(t *testing.T) {
	for _, tc := range []struct {
		file, crate, want string
		noToolchain       bool
	}{
		{file: "check-pass.txt", crate: "cfg-if", want: "unknown"},
		{file: "check-typeerr.txt", crate: "ejecta-typeerr", want: "compiler-error(E0308)"},
		{file: "check-typeerr-nocolor.txt", crate: "ejecta-typeerr", want: "compiler-error(E0308)"},
		{file: "check-typeerr.txt", crate: "ejecta_typeerr", want: "compiler-error(E0308)"}, // '_' and '-' are one
		{file: "check-multierr.txt", crate: "ejecta-multierr", want: "compiler-error(E0308,E0425)"},
		{file: "check-depends-on.txt", crate: "ejecta-usesbad", want: "depends-on(ejecta-typeerr)"},
		{file: "check-ice-nightly.txt", crate: "ejecta-typeerr", want: "ice"},
		{file: "test-fail.txt", crate: "ejecta-testfail", want: "unknown"},
		{file: "generate-lockfile-missing.txt", crate: "no-such-crate", want: "unknown"},
		{file: "toolchain-missing.txt", crate: "cfg-if", want: "unknown", noToolchain: true},
		// ejecta-network's build script run without a network (unshare -n).
		{file: "check-network.txt", crate: "ejecta-network", want: "network-access"},
		// ejecta-diskfull with its target dir on a 20 MiB tmpfs.
		{file: "check-no-space.txt", crate: "ejecta-diskfull", want: "no-space"},
	} {
		t.Run(tc.file+"/"+tc.crate, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "output", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			// Feed it in random pieces: lines arrive split across writes.
			d := newDiagnostics()
			w := d.writer()
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+rand.IntN(40))
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if got := d.reason(tc.crate); string(got) != tc.want {
				t.Errorf("reason(%q) = %q, want %q", tc.crate, got, tc.want)
			}
			if got := d.toolchainMissing(); got != tc.noToolchain {
				t.Errorf("toolchainMissing = %v, want %v", got, tc.noToolchain)
			}
		})
	}
}

// A line far longer than maxDiagLine is cut for matching but does not hide
// the lines after it.
func TestDiagnosticsLongLine(t *testing.T) {
	d := newDiagnostics()
	w := d.writer()
	w.Write(bytes.Repeat([]byte("x"), 3*maxDiagLine))
	w.Write([]byte("\nerror[E0599]: no method named `foo`\n"))
	if got := d.reason("c"); got != "compiler-error(E0599)" {
		t.Errorf("reason = %q", got)
	}
}

// A build that prints thousands of distinct failed packages, codes and
// lints, long and short, costs the builder a bounded set of names and
// makes a reason that fits a message.
func TestDiagnosticsBounded(t *testing.T) {
	d := newDiagnostics()
	w := d.writer()
	long := strings.Repeat("n", 4000)
	for i := range 20000 {
		fmt.Fprintf(w, "error: could not compile `dep%05d` (lib)\n", i)
		fmt.Fprintf(w, "error: could not compile `%s%d` (lib)\n", long, i)
		fmt.Fprintf(w, "error[E%04d]: made up\n", i%10000)
		fmt.Fprintf(w, "  = note: `#[deny(made_up_lint_%d)]` on by default\n", i)
	}
	if len(d.failed) > maxDiagNames || len(d.codes) > maxDiagNames {
		t.Errorf("kept %d failed packages and %d codes, want at most %d each", len(d.failed), len(d.codes), maxDiagNames)
	}
	r := d.reason("c")
	if r.Kind() != streams.ReasonDependsOn || len(r) > streams.MaxReasonBytes || !strings.Contains(string(r), "dep00000") {
		t.Errorf("reason %s (%d bytes), want depends-on(...) of at most %d bytes naming the first", streams.Bounded(string(r)), len(r), streams.MaxReasonBytes)
	}
}

// BenchmarkDiagnosticsLine feeds the lines of a typical build-and-test
// log: every line of every log passes through the classifier.
func BenchmarkDiagnosticsLine(b *testing.B) {
	lines := [][]byte{
		[]byte("\x1b[1m\x1b[32m   Compiling\x1b[0m serde v1.0.210"),
		[]byte("   Compiling libc v0.2.159"),
		[]byte("test tests::parses_the_header ... ok"),
		[]byte("warning: unused variable: `x`"),
		[]byte("  --> src/lib.rs:12:9"),
		[]byte("   |"),
		[]byte("running 12 tests"),
		[]byte("error[E0308]: mismatched types"),
	}
	d := newDiagnostics()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.line(lines[i%len(lines)])
	}
}

// stripANSI removes exactly what the regexp it replaced removed.
func TestStripANSI(t *testing.T) {
	reference := regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")
	for _, s := range []string{
		"", "plain", "\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m: unused variable",
		"\x1b[38;5;196mred\x1b[0m", "\x1b[?25l hidden cursor \x1b[?25h", "\x1b[2 q", // intermediate byte
		"\x1b[", "\x1b[12", "\x1b[12;", "\x1b[1\x1b[0m", "\x1bx", "\x1b]0;title\x07", // incomplete and non-CSI stay
		"\x1b[1;2 !@tail", "a\x1b[0mb\x1b[1mc", "\x1b[0;\x1b[0m", "\x1b[1\x00m", "é\x1b[1mé",
	} {
		if got, want := stripANSI([]byte(s)), reference.ReplaceAllString(s, ""); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", s, got, want)
		}
	}
}

// Only a step that reads a remote registry blames it for a failed
// connection; elsewhere the line is the crate's own output.
func TestRegistryUnreachable(t *testing.T) {
	for _, remote := range []bool{false, true} {
		d := newDiagnostics()
		d.remote = remote
		d.writer().Write([]byte("error: failed to get `scopeguard` as a dependency\n  [7] Couldn't connect to server (Failed to connect to 127.0.0.1 port 1)\n"))
		if got := d.registryUnreachable(); got != remote {
			t.Errorf("remote step %v: registryUnreachable %v", remote, got)
		}
	}
}
