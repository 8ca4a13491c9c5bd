package streams

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

func TestEscapeTokenExamples(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"serde", "serde"},
		{"cfg-if", "cfg-if"},
		{"lazy_static", "lazy_static"},
		{"1.0.0", "1%2E0%2E0"},
		{"1.0.0-beta.1+build.5", "1%2E0%2E0-beta%2E1%2Bbuild%2E5"},
		{"a*b>c", "a%2Ab%3Ec"},
		{"a b\tc\n", "a%20b%09c%0A"},
		{"ü", "%C3%BC"},
		{"%", "%25"},
		{"../x", "%2E%2E%2Fx"},
	} {
		if got := EscapeToken(tc.in); got != tc.want {
			t.Errorf("EscapeToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// checkToken asserts what every subject token must satisfy and that it
// round-trips.
func checkToken(t *testing.T, s string) {
	t.Helper()
	tok := EscapeToken(s)
	if strings.ContainsAny(tok, ".*> \t\r\n/\\") || !utf8.ValidString(tok) {
		t.Errorf("EscapeToken(%q) = %q holds a forbidden byte", s, tok)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] >= 0x80 || tok[i] < 0x20 {
			t.Fatalf("EscapeToken(%q) = %q holds non-printable byte %#x", s, tok, tok[i])
		}
	}
	back, err := UnescapeToken(tok)
	if err != nil || back != s {
		t.Errorf("UnescapeToken(EscapeToken(%q)) = %q, %v", s, back, err)
	}
}

func TestEscapeTokenRoundTripsAdversarial(t *testing.T) {
	for _, s := range []string{
		".", "..", "...", "*", ">", "a.>", "$JS.API", "\x00", "\xff\xfe", "日本語", "tab\there",
		"%2E", "%%", "a%", "-", "_", strings.Repeat("x.", 200), "\u202e", "a/b/../../etc",
	} {
		checkToken(t, s)
	}
}

func FuzzEscapeToken(f *testing.F) {
	f.Add("serde")
	f.Add("1.0.0-rc.1")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return
		}
		checkToken(t, s)
	})
}

// TestEscapeTokenRoundTripsCorpus round-trips every crate name and version
// in the local crate corpus (Debian's registry) when it is installed.
func TestEscapeTokenRoundTripsCorpus(t *testing.T) {
	dirs, _ := filepath.Glob("/usr/share/cargo/registry/*/Cargo.toml")
	if len(dirs) == 0 {
		t.Skip("no crates under /usr/share/cargo/registry")
	}
	for _, manifest := range dirs {
		var m struct {
			Package struct{ Name, Version string }
		}
		data, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := toml.Decode(string(data), &m); err != nil {
			t.Fatalf("%s: %v", manifest, err)
		}
		checkToken(t, m.Package.Name)
		checkToken(t, m.Package.Version)
		k := BuildKey{Experiment: "exp", Crate: m.Package.Name, Version: m.Package.Version, Toolchain: "nightly-2026-01-01"}
		got, attempt, err := ParseLogSubject(LogSubject(k, 3))
		if err != nil || got != k || attempt != 3 {
			t.Errorf("ParseLogSubject(LogSubject(%v)) = %v, %d, %v", k, got, attempt, err)
		}
	}
}

func TestUnescapeTokenRefusesNonCanonical(t *testing.T) {
	for _, tok := range []string{"", "a.b", "%", "%2", "%2e", "%41", "%G0", "a b", "ü"} {
		if _, err := UnescapeToken(tok); err == nil {
			t.Errorf("UnescapeToken(%q) succeeded, want an error", tok)
		}
	}
}
