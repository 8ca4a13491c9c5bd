package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// realRustup returns the machine's rustup home and cargo proxy.
func realRustup(t *testing.T) (home, cargo string) {
	t.Helper()
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		testenv.Unavailable(t, "cargo not on PATH")
	}
	cfg := Config{}.withDefaults()
	if toolchainDir(cfg.RustupHome, "stable") == "" {
		testenv.Unavailable(t, "rustup has no stable toolchain in %s", cfg.RustupHome)
	}
	return cfg.RustupHome, cargo
}

// A rustup home whose stable toolchain has every file of the real one but
// those of the components named: what a minimal profile install looks like.
func rustupWithout(t *testing.T, realHome string, drop ...string) string {
	t.Helper()
	home := t.TempDir()
	src := toolchainDir(realHome, "stable")
	dst := filepath.Join(home, "toolchains", filepath.Base(src))
	if err := os.MkdirAll(filepath.Join(dst, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(src, "lib"), filepath.Join(dst, "lib"))
	bins, _ := os.ReadDir(filepath.Join(src, "bin"))
	for _, b := range bins {
		skip := false
		for _, c := range drop {
			skip = skip || "bin/"+b.Name() == componentFile(c)
		}
		if !skip {
			os.Symlink(filepath.Join(src, "bin", b.Name()), filepath.Join(dst, "bin", b.Name()))
		}
	}
	return home
}

func TestMissingComponent(t *testing.T) {
	home, _ := realRustup(t)
	if c := missingComponent(home, "stable", "clippy"); c != "" {
		t.Skipf("this machine's stable lacks %s", c)
	}
	stripped := rustupWithout(t, home, "clippy")
	for _, tt := range []struct {
		home, tc   string
		components []string
		want       string
	}{
		{home, "stable", []string{"clippy"}, ""},
		{stripped, "stable", []string{"clippy"}, "clippy"},
		{stripped, "stable", nil, ""},
		// miri needs rust-src as well; the first missing one is named.
		{stripped, "stable", []string{"rust-src", "clippy"}, "rust-src"},
		// An unknown toolchain: the build's first step reports it instead.
		{home, "no-such-toolchain", []string{"clippy"}, ""},
	} {
		if got := missingComponent(tt.home, tt.tc, tt.components...); got != tt.want {
			t.Errorf("missingComponent(%s, %s, %q) = %q, want %q", tt.home, tt.tc, tt.components, got, tt.want)
		}
	}
	// The miri component: compare with what rustup itself says.
	out, _ := exec.Command("rustup", "component", "list", "--toolchain", "nightly", "--installed").Output()
	hasMiri := strings.Contains(string(out), "miri")
	if got := missingComponent(home, "nightly", "miri") == ""; toolchainDir(home, "nightly") != "" && got != hasMiri {
		t.Errorf("nightly has miri: ejecta says %v, rustup says %v", got, hasMiri)
	}
}

// rustc -vV runs once per toolchain and is asked again after the
// toolchain's manifest changes (rustup update).
func TestRustcVersions(t *testing.T) {
	home, cargo := realRustup(t)
	cfg := Config{RustupHome: home, CargoPath: cargo}
	want, err := exec.Command("rustc", "+stable", "-vV").Output()
	if err != nil {
		t.Fatal(err)
	}
	var r rustcVersions
	got, err := r.get(context.Background(), cfg, "stable")
	if err != nil || got+"\n" != string(want) {
		t.Fatalf("get = %q, %v; want %q", got, err, want)
	}
	// A cached answer survives rustc disappearing; a changed stamp does not.
	cfg.CargoPath = filepath.Join(t.TempDir(), "cargo")
	if again, err := r.get(context.Background(), cfg, "stable"); err != nil || again != got {
		t.Errorf("cached get = %q, %v", again, err)
	}
	r.m["stable"] = rustcVersion{text: got} // zero stamp: as if the toolchain had been updated since
	if _, err := r.get(context.Background(), cfg, "stable"); err == nil {
		t.Error("a stale entry was used instead of asking rustc again")
	}
	if _, err := r.get(context.Background(), Config{RustupHome: home, CargoPath: cargo}, "no-such-toolchain"); err == nil ||
		!strings.Contains(err.Error(), "no-such-toolchain") {
		t.Errorf("unknown toolchain: err %v", err)
	}
	// A toolchain rustc cannot run fails once; the failure is cached.
	broken := t.TempDir()
	os.MkdirAll(filepath.Join(broken, "toolchains", "stable-x86_64-unknown-linux-gnu", "bin"), 0o755)
	os.WriteFile(filepath.Join(broken, "toolchains", "stable-x86_64-unknown-linux-gnu", "bin", "rustc"), nil, 0o755)
	var b rustcVersions
	bcfg := Config{RustupHome: broken, CargoPath: cargo}
	if _, err := b.get(context.Background(), bcfg, "stable"); err == nil {
		t.Fatal("rustc of an empty toolchain dir answered")
	}
	if e, ok := b.m["stable"]; !ok || e.err == nil {
		t.Errorf("failure not cached: %+v", b.m)
	}
}
