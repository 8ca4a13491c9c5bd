package builder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsJobDirOf(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		want     bool
	}{
		{"b-0-1-0123abcd", "b", true},
		{"b-1-0-1-0123abcd", "b", false}, // builder "b-1"'s
		{"b-1-0-1-0123abcd", "b-1", true},
		{"b-0-1-xyz", "b", false},
		{"b-0-1", "b", false},
		{"bb-0-1-0123abcd", "b", false},
	} {
		if got := isJobDirOf(tc.name, tc.id); got != tc.want {
			t.Errorf("isJobDirOf(%q, %q) = %v", tc.name, tc.id, got)
		}
	}
	name, err := jobDirName("b-1", 2, 3)
	if err != nil || !isJobDirOf(name, "b-1") || isJobDirOf(name, "b") {
		t.Errorf("jobDirName = %q, %v", name, err)
	}
}

func TestFindCrateDir(t *testing.T) {
	reg := t.TempDir()
	// A dir not named <crate>-<version> is found by its manifest.
	os.MkdirAll(filepath.Join(reg, "odd-name/src"), 0o755)
	os.WriteFile(filepath.Join(reg, "odd-name/Cargo.toml"), []byte("[package]\nname = \"foo\"\nversion = \"1.2.3\"\n"), 0o644)
	if d, err := findCrateDir(reg, "foo", "1.2.3"); err != nil || d != filepath.Join(reg, "odd-name") {
		t.Errorf("findCrateDir = %q, %v", d, err)
	}
	if _, err := findCrateDir(reg, "foo", "1.2.4"); !errors.Is(err, errCrateNotFound) {
		t.Errorf("wrong version: %v", err)
	}
	if d, err := findCrateDir("testdata/registry", "ejecta-typeerr", "0.1.0"); err != nil || !strings.HasSuffix(d, "ejecta-typeerr-0.1.0") {
		t.Errorf("findCrateDir = %q, %v", d, err)
	}
}

func TestCopyCrate(t *testing.T) {
	// A crate that ships cargo config of its own: it must not reach cargo.
	src := filepath.Join(t.TempDir(), "ejecta-testfail-0.1.0")
	if err := os.CopyFS(src, os.DirFS("testdata/registry/ejecta-testfail-0.1.0")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, ".cargo"), 0o755); err != nil {
		t.Fatal(err)
	}
	evil := "[build]\nrustc-wrapper = \"/bin/evil\"\n"
	for _, name := range []string{"config", "config.toml"} {
		if err := os.WriteFile(filepath.Join(src, ".cargo", name), []byte(evil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws := workspace{dir: t.TempDir()}
	if err := ws.copyCrate(src, "/reg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.crate(), ".cargo", "config")); !os.IsNotExist(err) {
		t.Error("the crate's .cargo/config was copied")
	}
	if _, err := os.Stat(filepath.Join(ws.crate(), ".cargo-checksum.json")); !os.IsNotExist(err) {
		t.Error("checksum file copied")
	}
	manifest, _ := os.ReadFile(filepath.Join(ws.crate(), "Cargo.toml"))
	config, _ := os.ReadFile(filepath.Join(ws.crate(), ".cargo/config.toml"))
	if !strings.Contains(string(manifest), "\n[workspace]\n") || !strings.Contains(string(config), `directory = "/reg"`) || strings.Contains(string(config), "evil") {
		t.Errorf("manifest:\n%s\nconfig:\n%s", manifest, config)
	}
}

func TestToolchainDir(t *testing.T) {
	home := t.TempDir()
	for _, d := range []string{"stable-x86_64-unknown-linux-gnu", "nightly-2026-01-01-x86_64-unknown-linux-gnu", "1.80.0-x86_64-unknown-linux-gnu"} {
		os.MkdirAll(filepath.Join(home, "toolchains", d), 0o755)
	}
	for tc, want := range map[string]string{
		"stable": "stable-x86_64-unknown-linux-gnu", "nightly": "", "nightly-2026-01-01": "nightly-2026-01-01-x86_64-unknown-linux-gnu",
		"1.80": "", "1.80.0": "1.80.0-x86_64-unknown-linux-gnu",
	} {
		got := toolchainDir(home, tc)
		if want != "" {
			want = filepath.Join(home, "toolchains", want)
		}
		if got != want {
			t.Errorf("toolchainDir(%q) = %q, want %q", tc, got, want)
		}
	}
}
