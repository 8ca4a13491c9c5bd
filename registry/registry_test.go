package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

func TestIndexPath(t *testing.T) {
	for name, want := range map[string]string{
		"a": "1/a", "ab": "2/ab", "abc": "3/a/abc", "cfg-if": "cf/g-/cfg-if", "Serde": "se/rd/serde", "itoa": "it/oa/itoa",
	} {
		if got := IndexPath(name); got != want {
			t.Errorf("IndexPath(%q) = %q, want %q", name, got, want)
		}
	}
}

// registry serves the Debian corpus (and the repository's test crates) as
// a sparse registry on loopback.
func registry(t *testing.T) (*testenv.SparseRegistry, *Client) {
	t.Helper()
	srv := testenv.ServeSparseRegistry(t, testenv.CrateRegistry(t))
	c, err := NewClient(srv.Source)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestVersions(t *testing.T) {
	_, c := registry(t)
	ctx := context.Background()
	v, err := c.Version(ctx, "cfg-if", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(testenv.DebianRegistry, "cfg-if-1.0.0", "src", "lib.rs"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "cfg-if" || len(v.Cksum) != 64 {
		t.Errorf("cfg-if 1.0.0: %+v", v)
	}
	for _, tc := range []struct{ name, version, want string }{
		{"no-such-crate", "1.0.0", "crate no-such-crate: not in the registry"},
		{"cfg-if", "9.9.9", "crate cfg-if 9.9.9: not in the registry"},
		{"../etc", "1.0.0", "crate name"},
	} {
		_, err := c.Version(ctx, tc.name, tc.version)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: error %v, want one containing %q", tc.name, tc.version, err, tc.want)
		}
	}

	// The file fetched and unpacked holds the crate's sources.
	cache, err := OpenCache(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	f, hit, err := cache.Fetch(ctx, c, v)
	if err != nil || hit {
		t.Fatalf("first fetch: hit %v, %v", hit, err)
	}
	defer f.Close()
	dir := t.TempDir()
	if err := Unpack(f, dir, v); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "cfg-if-1.0.0", "src", "lib.rs"))
	if err != nil || !bytes.Equal(got, src) {
		t.Errorf("unpacked src/lib.rs differs from the source (%v)", err)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "cfg-if-1.0.0", ".cargo-checksum.json"))
	if err != nil || !strings.Contains(string(sum), `"package":"`+v.Cksum+`"`) {
		t.Errorf(".cargo-checksum.json: %s (%v)", sum, err)
	}
}

func TestCache(t *testing.T) {
	srv, c := registry(t)
	ctx := context.Background()
	versions := map[string]Version{}
	for _, name := range []string{"cfg-if", "itoa", "scopeguard"} {
		vs, err := c.Versions(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		versions[name] = vs[len(vs)-1]
	}
	fetch := func(cache *Cache, name string) bool {
		t.Helper()
		f, hit, err := cache.Fetch(ctx, c, versions[name])
		if err != nil {
			t.Fatalf("fetch %s: %v", name, err)
		}
		f.Close()
		time.Sleep(10 * time.Millisecond) // distinct use times
		return hit
	}
	// The files' sizes, from a cache of their own.
	probeDir := t.TempDir()
	probe, err := OpenCache(probeDir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	size := map[string]int64{}
	for name, v := range versions {
		fetch(probe, name)
		st, err := os.Stat(filepath.Join(probeDir, v.Cksum+".crate"))
		if err != nil {
			t.Fatal(err)
		}
		size[name] = st.Size()
	}
	if !fetch(probe, "cfg-if") {
		t.Error("cfg-if fetched twice: want a hit the second time")
	}
	if n := srv.Downloads("cfg-if", versions["cfg-if"].Vers); n != 1 {
		t.Errorf("cfg-if downloaded %d times, want once", n)
	}

	// Room for two of the three: when scopeguard comes in, itoa goes,
	// the least recently used though cfg-if came in first.
	dir := t.TempDir()
	bound := size["cfg-if"] + max(size["itoa"], size["scopeguard"])
	small, err := OpenCache(dir, bound)
	if err != nil {
		t.Fatal(err)
	}
	fetch(small, "cfg-if")
	fetch(small, "itoa")
	if !fetch(small, "cfg-if") {
		t.Error("cfg-if evicted before the cache was full")
	}
	fetch(small, "scopeguard")
	for name, want := range map[string]bool{"cfg-if": true, "itoa": false, "scopeguard": true} {
		_, err := os.Stat(filepath.Join(dir, versions[name].Cksum+".crate"))
		if got := err == nil; got != want {
			t.Errorf("%s cached: %v, want %v", name, got, want)
		}
	}
	if n, err := small.Bytes(); err != nil || n > bound {
		t.Errorf("cache holds %d bytes, over its bound of %d (%v)", n, bound, err)
	}

	// A file that does not match the index is refused and never cached.
	srv.Tamper("itoa", versions["itoa"].Vers)
	_, _, err = small.Fetch(ctx, c, versions["itoa"])
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "the index says sha256 "+versions["itoa"].Cksum) {
		t.Errorf("tampered itoa: %v, want a checksum mismatch naming the index's sum", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 2 {
		t.Errorf("cache dir after the refused download: %v, want cfg-if and scopeguard only", left)
	}
}

func tarGz(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = 2
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte("hi"))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestUnpackRefuses(t *testing.T) {
	v := Version{Name: "evil", Vers: "1.0.0", Cksum: strings.Repeat("0", 64)}
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"parent", tarGz(t, reg("evil-1.0.0/../../escaped")), `entry "evil-1.0.0/../../escaped" is outside evil-1.0.0/`},
		{"absolute", tarGz(t, reg("/etc/evil")), "is outside"},
		{"other prefix", tarGz(t, reg("other-1.0.0/src/lib.rs")), "is outside"},
		{"symlink", tarGz(t, &tar.Header{Name: "evil-1.0.0/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), "is a link"},
		{"not gzip", []byte("plain text"), "not a gzip file"},
		{"empty", tarGz(t), "no entry under evil-1.0.0/"},
	} {
		dir := t.TempDir()
		err := Unpack(bytes.NewReader(tc.data), dir, v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escaped")); err == nil {
			t.Errorf("%s: a file escaped the unpack dir", tc.name)
		}
	}
}
