package cargo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// A rustup home whose stable toolchain has every file of the real one but
// those of the components named: what a minimal profile install looks like.
func rustupWithout(t *testing.T, realHome string, drop ...string) string {
	t.Helper()
	home := t.TempDir()
	src := ToolchainDir(realHome, "stable")
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
	home, _ := testenv.Rustup(t)
	if c := MissingComponent(home, "stable", "clippy"); c != "" {
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
		if got := MissingComponent(tt.home, tt.tc, tt.components...); got != tt.want {
			t.Errorf("MissingComponent(%s, %s, %q) = %q, want %q", tt.home, tt.tc, tt.components, got, tt.want)
		}
	}
	// The miri component: compare with what rustup itself says.
	out, _ := exec.Command("rustup", "component", "list", "--toolchain", "nightly", "--installed").Output()
	hasMiri := strings.Contains(string(out), "miri")
	if got := MissingComponent(home, "nightly", "miri") == ""; ToolchainDir(home, "nightly") != "" && got != hasMiri {
		t.Errorf("nightly has miri: ejecta says %v, rustup says %v", got, hasMiri)
	}
}

// rustc -vV runs once per toolchain and is asked again after the
// toolchain's manifest changes (rustup update).
func TestRustcVersions(t *testing.T) {
	home, cargo := testenv.Rustup(t)
	cfg := Host{RustupHome: home, CargoPath: cargo}
	want, err := exec.Command("rustc", "+stable", "-vV").Output()
	if err != nil {
		t.Fatal(err)
	}
	// What the sandbox would run, run here: the caching is under test.
	calls := 0
	probeIn := func(home string) func(context.Context, ...string) (string, error) {
		return func(ctx context.Context, args ...string) (string, error) {
			calls++
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			cmd.Env = append(os.Environ(), "RUSTUP_HOME="+home, "RUSTUP_AUTO_INSTALL=0")
			out, err := cmd.Output()
			return string(out), err
		}
	}
	probe := probeIn(home)
	var r Versions
	got, line, err := r.Get(context.Background(), cfg, "stable", probe)
	wantLine, _, _ := strings.Cut(strings.TrimPrefix(string(want), "rustc "), "\n")
	if err != nil || got+"\n" != string(want) || line != wantLine || calls != 1 {
		t.Fatalf("get = %q, %q, %v after %d runs; want %q, %q after one", got, line, err, calls, want, wantLine)
	}
	// A cached answer survives rustc disappearing; a changed stamp does not.
	cfg.CargoPath = filepath.Join(t.TempDir(), "cargo")
	if again, _, err := r.Get(context.Background(), cfg, "stable", probe); err != nil || again != got || calls != 1 {
		t.Errorf("cached get = %q, %v, after %d runs", again, err, calls)
	}
	r.m["stable"] = rustcVersion{text: got} // zero stamp: as if the toolchain had been updated since
	if _, _, err := r.Get(context.Background(), cfg, "stable", probe); err == nil || calls != 2 {
		t.Error("a stale entry was used instead of asking rustc again")
	}
	if _, _, err := r.Get(context.Background(), Host{RustupHome: home, CargoPath: cargo}, "no-such-toolchain", probe); err == nil ||
		!strings.Contains(err.Error(), "no-such-toolchain") {
		t.Errorf("unknown toolchain: err %v", err)
	}
	// A probe the sandbox could not run says nothing: it is asked again.
	var s Versions
	sandboxDown := 0
	down := func(context.Context, ...string) (string, error) {
		sandboxDown++
		return "", fmt.Errorf("%w: containerd restarting", errNotRun)
	}
	for range 2 {
		if _, line, err := s.Get(context.Background(), cfg, "stable", down); err == nil || line == "" {
			t.Errorf("sandbox down: line %q, err %v; want the manifest's line and the error", line, err)
		}
	}
	if sandboxDown != 2 {
		t.Errorf("a probe the sandbox could not run was cached: %d runs for 2 gets", sandboxDown)
	}
	// A toolchain rustc cannot run fails once; the failure is cached, with
	// the version line its channel manifest gives.
	broken := t.TempDir()
	tcDir := filepath.Join(broken, "toolchains", "stable-x86_64-unknown-linux-gnu")
	os.MkdirAll(filepath.Join(tcDir, "bin"), 0o755)
	os.MkdirAll(filepath.Join(tcDir, "lib", "rustlib"), 0o755)
	os.WriteFile(filepath.Join(tcDir, "bin", "rustc"), nil, 0o755)
	os.WriteFile(filepath.Join(tcDir, "lib", "rustlib", "multirust-channel-manifest.toml"),
		[]byte("[pkg.cargo]\nversion = \"0.1.0\"\n[pkg.rustc]\nversion = \"1.2.3 (abcdef012 2026-01-01)\"\n"), 0o644)
	var b Versions
	bcfg := Host{RustupHome: broken, CargoPath: cargo}
	_, line, err = b.Get(context.Background(), bcfg, "stable", probeIn(broken))
	if err == nil {
		t.Fatal("rustc of an empty toolchain dir answered")
	}
	if line != "1.2.3 (abcdef012 2026-01-01)" {
		t.Errorf("version line %q, want the manifest's rustc version", line)
	}
	if e, ok := b.m["stable"]; !ok || e.err == nil || e.line != line {
		t.Errorf("failure not cached with its version line: %+v", b.m)
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
		got := ToolchainDir(home, tc)
		if want != "" {
			want = filepath.Join(home, "toolchains", want)
		}
		if got != want {
			t.Errorf("ToolchainDir(%q) = %q, want %q", tc, got, want)
		}
	}
}
