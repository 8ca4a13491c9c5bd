package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DebianRegistry is where Debian's librust-*-dev packages put crate sources.
const DebianRegistry = "/usr/share/cargo/registry"

// DurableTempDir is like t.TempDir but outside /tmp, and readable by all:
// for job dirs, and for crate sources builds read without binding them.
func DurableTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "ejecta-test-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	// Builds run as unprivileged users: a crate source here must be
	// readable by them, as the operator's would be.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// CrateRegistry returns a directory registry holding every crate of
// Debian's registry, as symlinks, plus copies of the project's
// testdata/crates (demo crates whose result differs between stable and
// nightly): builds see the host's /usr but not necessarily the checkout
// (it may be under a home directory, which the sandbox hides).
func CrateRegistry(t testing.TB) string {
	t.Helper()
	debian, _ := filepath.Glob(filepath.Join(DebianRegistry, "*", "Cargo.toml"))
	if len(debian) == 0 {
		Unavailable(t, "no crate sources under %s (apt-get install librust-cfg-if-dev ...)", DebianRegistry)
	}
	ours, err := filepath.Glob(filepath.Join(RepoRoot(t), "testdata", "crates", "*", "Cargo.toml"))
	if err != nil || len(ours) == 0 {
		t.Fatalf("no crates under testdata/crates: %v", err)
	}
	dir := filepath.Join(DurableTempDir(t), "registry")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range debian {
		crate := filepath.Dir(m)
		if err := os.Symlink(crate, filepath.Join(dir, filepath.Base(crate))); err != nil {
			t.Fatalf("link %s: %v", crate, err)
		}
	}
	for _, m := range ours {
		crate := filepath.Dir(m)
		if err := os.CopyFS(filepath.Join(dir, filepath.Base(crate)), os.DirFS(crate)); err != nil {
			t.Fatalf("copy %s: %v", crate, err)
		}
	}
	return dir
}

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// QuickCargo is a script standing in for cargo: every step of a check-only
// job succeeds at once, so jobs measure the builder and the sandbox, not
// rustc. It lives outside /tmp (the sandbox has its own), beside the real
// rustc, which the builder asks for its version as it would beside
// rustup's cargo.
func QuickCargo(t testing.TB) string {
	t.Helper()
	rustc, err := exec.LookPath("rustc")
	if err != nil {
		Unavailable(t, "rustc not in PATH")
	}
	dir := DurableTempDir(t)
	path := filepath.Join(dir, "cargo")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho \"quick task: $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rustc, filepath.Join(dir, "rustc")); err != nil {
		t.Fatal(err)
	}
	return path
}

// Rustup returns the machine's rustup home ($RUSTUP_HOME, else ~/.rustup)
// and cargo proxy, or has t skipped (failed under EJECTA_REQUIRE_ALL) when
// there is no cargo or no stable toolchain.
func Rustup(t testing.TB) (home, cargo string) {
	t.Helper()
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		Unavailable(t, "cargo not on PATH")
	}
	home = os.Getenv("RUSTUP_HOME")
	if home == "" {
		dir, err := os.UserHomeDir()
		if err != nil {
			Unavailable(t, "no home directory: %v", err)
		}
		home = filepath.Join(dir, ".rustup")
	}
	if stable, _ := filepath.Glob(filepath.Join(home, "toolchains", "stable-*")); len(stable) == 0 {
		Unavailable(t, "rustup has no stable toolchain in %s", home)
	}
	return home, cargo
}
