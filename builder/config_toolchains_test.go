package builder

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// A builder offers rustup's toolchains and the toolchain directories it was
// given, and no other directory, whatever it holds; it refuses a directory
// without a rustc. One under /tmp is bound into the builds' own /tmp.
func TestToolchainPaths(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "toolchains", "stable-x86_64-unknown-linux-gnu"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk := func(dir string) string {
		if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bin", "rustc"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	base := testenv.DurableTempDir(t)
	given, other := mk(filepath.Join(base, "stage2")), mk(filepath.Join(base, "stage1"))
	cfg := Config{RustupHome: home, ToolchainPaths: []string{given}}
	if got := cfg.toolchains(); !slices.Equal(got, []string{"stable-x86_64-unknown-linux-gnu", given}) {
		t.Errorf("toolchains() = %v, want rustup's stable and %s", got, given)
	}
	inTmp := mk(filepath.Join(t.TempDir(), "stage3"))
	if err := (Config{ID: "b1", WorkDir: "/var/tmp/x", CargoPath: "/bin/sh", RustupHome: home, ToolchainPaths: []string{inTmp}}).withDefaults().Validate(); err != nil {
		t.Errorf("toolchain path under /tmp: %v", err)
	}
	for tc, want := range map[string]bool{"stable": true, given: true, other: false, "nightly": false} {
		if got := cfg.offers(tc); got != want {
			t.Errorf("offers(%s) = %v, want %v", tc, got, want)
		}
	}

	for _, tt := range []struct{ path, want string }{
		{"relative/stage2", "want the absolute path of a toolchain directory"},
		{base, "no bin/rustc in it"},
		{"/tmp/stage2", "no bin/rustc in it"},
	} {
		c := Config{ID: "b1", WorkDir: "/var/tmp/x", CargoPath: "/bin/sh", RustupHome: home}.withDefaults()
		c.ToolchainPaths = []string{tt.path}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "toolchain path") {
			t.Errorf("toolchain path %s: %v, want an error naming it with %q", tt.path, err, tt.want)
		}
	}
}
