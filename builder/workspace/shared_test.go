package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openShared(t *testing.T) *SharedTarget {
	t.Helper()
	dir := filepath.Join(SharedTargetsDir(t.TempDir(), "b1"), SharedTargetName(0, "stable"))
	st, err := OpenSharedTarget(dir, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func writeBytes(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSharedTargetSizeAndPurge(t *testing.T) {
	st := openShared(t)
	if u := st.Size(); u.Partial || u.Bytes != 0 {
		t.Fatalf("empty target: %+v", u)
	}
	writeBytes(t, filepath.Join(st.Dir(), "debug/deps/libserde-1.rlib"), 1<<20)
	writeBytes(t, filepath.Join(st.Dir(), "debug/.fingerprint/serde-1/lib-serde"), 100)
	u := st.Size()
	if u.Partial || u.Bytes < 1<<20 || u.Bytes > 2<<20 {
		t.Fatalf("size %+v, want about 1 MiB", u)
	}
	if err := st.Purge(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(st.Dir())
	if err != nil || len(ents) != 0 {
		t.Fatalf("after purge: %v, %v; want an empty dir", ents, err)
	}
	fi, err := os.Lstat(st.Dir())
	if err != nil || !fi.IsDir() {
		t.Fatalf("after purge: %v, %v", fi, err)
	}
}

// A build plants links to the host in the shared target: the builder
// neither counts what they point to nor removes it.
func TestSharedTargetFollowsNoSymlink(t *testing.T) {
	st := openShared(t)
	outside := t.TempDir()
	writeBytes(t, filepath.Join(outside, "big"), 4<<20)
	secret := filepath.Join(outside, "secret")
	writeBytes(t, secret, 10)
	for _, l := range []struct{ target, name string }{
		{outside, "debug/deps"},     // a directory link where cargo keeps rlibs
		{outside, "link-to-dir"},    // at the top
		{secret, "debug/libx.rlib"}, // a file link
		{"/", "root"},               // the host's root
		{"..", "up"},                // relative, out of the tree
	} {
		p := filepath.Join(st.Dir(), l.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l.target, p); err != nil {
			t.Fatal(err)
		}
	}
	if u := st.Size(); u.Bytes >= 1<<20 {
		t.Errorf("size %+v counts what the links point to", u)
	}
	if err := st.Purge(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(outside, "big"), secret} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("purge removed %s, outside the target: %v", p, err)
		}
	}
}

// A build that hides files deeper than the measure goes is not believed:
// the measure says it is partial, and the builder purges.
func TestSharedTargetTooDeepIsPartial(t *testing.T) {
	st := openShared(t)
	deep := st.Dir()
	for range maxQuotaDepth + 3 {
		deep = filepath.Join(deep, "d")
	}
	writeBytes(t, filepath.Join(deep, "hidden"), 1<<20)
	if u := st.Size(); !u.Partial {
		t.Errorf("size %+v of a tree deeper than %d, want partial", u, maxQuotaDepth)
	}
	if err := st.Purge(); err != nil {
		t.Fatal(err)
	}
}

// Whatever stands where the shared target should be and is not the build
// user's directory is replaced, never followed.
func TestOpenSharedTargetReplacesALink(t *testing.T) {
	parent := SharedTargetsDir(t.TempDir(), "b1")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	writeBytes(t, filepath.Join(outside, "keep"), 1)
	dir := filepath.Join(parent, SharedTargetName(1, "nightly"))
	if err := os.Symlink(outside, dir); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSharedTarget(dir, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(st.Dir()); err != nil || !fi.IsDir() {
		t.Fatalf("shared target is %v, %v; want a directory", fi, err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Errorf("the link's target lost its contents: %v", err)
	}
}

func TestSharedTargetName(t *testing.T) {
	if got := SharedTargetName(3, "nightly-2026-01-01"); got != "3-nightly-2026-01-01" {
		t.Errorf("name %q", got)
	}
	p := SharedTargetName(0, "/opt/rust/stage2")
	if strings.Contains(p, "/") || !strings.HasPrefix(p, "0-path-") {
		t.Errorf("path toolchain's name %q", p)
	}
	if p == SharedTargetName(0, "/opt/rust/stage1") {
		t.Error("two toolchain paths share a target")
	}
}
