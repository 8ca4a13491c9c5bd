package workspace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
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
		if got := IsDirOf(tc.name, tc.id); got != tc.want {
			t.Errorf("IsDirOf(%q, %q) = %v", tc.name, tc.id, got)
		}
	}
	name, err := DirName("b-1", 2, 3)
	if err != nil || !IsDirOf(name, "b-1") || IsDirOf(name, "b") {
		t.Errorf("jobDirName = %q, %v", name, err)
	}
}

func TestFindCrateDir(t *testing.T) {
	reg := t.TempDir()
	// A dir not named <crate>-<version> is found by its manifest.
	os.MkdirAll(filepath.Join(reg, "odd-name/src"), 0o755)
	os.WriteFile(filepath.Join(reg, "odd-name/Cargo.toml"), []byte("[package]\nname = \"foo\"\nversion = \"1.2.3\"\n"), 0o644)
	if d, err := FindCrate(reg, "foo", "1.2.3"); err != nil || d != filepath.Join(reg, "odd-name") {
		t.Errorf("findCrateDir = %q, %v", d, err)
	}
	if _, err := FindCrate(reg, "foo", "1.2.4"); !errors.Is(err, ErrCrateNotFound) {
		t.Errorf("wrong version: %v", err)
	}
	if d, err := FindCrate("../testdata/registry", "ejecta-typeerr", "0.1.0"); err != nil || !strings.HasSuffix(d, "ejecta-typeerr-0.1.0") {
		t.Errorf("findCrateDir = %q, %v", d, err)
	}
}

func TestCopyCrate(t *testing.T) {
	// A crate that ships cargo config of its own: it must not reach cargo.
	src := filepath.Join(t.TempDir(), "ejecta-testfail-0.1.0")
	if err := os.CopyFS(src, os.DirFS("../testdata/registry/ejecta-testfail-0.1.0")); err != nil {
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
	ws := testWorkspace(t)
	if err := ws.CopyCrate(src, "/reg", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.Crate(), ".cargo", "config")); !os.IsNotExist(err) {
		t.Error("the crate's .cargo/config was copied")
	}
	if _, err := os.Stat(filepath.Join(ws.Crate(), ".cargo-checksum.json")); !os.IsNotExist(err) {
		t.Error("checksum file copied")
	}
	manifest, _ := os.ReadFile(filepath.Join(ws.Crate(), "Cargo.toml"))
	config, _ := os.ReadFile(filepath.Join(ws.Crate(), ".cargo/config.toml"))
	if !strings.Contains(string(manifest), "\n[workspace]\n") || !strings.Contains(string(config), `directory = "/reg"`) || strings.Contains(string(config), "evil") {
		t.Errorf("manifest:\n%s\nconfig:\n%s", manifest, config)
	}
}

// testWorkspace is an empty job dir for builds of a made-up user.
func testWorkspace(t *testing.T) *Workspace {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "job")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &Workspace{dir: dir, root: root, uid: testBuildUID, gid: testBuildUID}
}

const testBuildUID = 2_000_000_100

// A new job dir is the builder's but for what builds write: a build can
// plant nothing where the builder or cargo would read it.
// The files a job dir has alike with others are the same with a stock
// (linked) as without (written).
func TestNewWorkspaceOwnership(t *testing.T) {
	stock, err := NewStock(filepath.Join(t.TempDir(), "stock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stock.Close() })
	for i, source := range []string{"/usr/share/cargo/registry", "sparse+http://127.0.0.1:1/index/", "/usr/share/cargo/registry"} {
		st := stock
		if i == 0 {
			st = nil
		}
		dir := filepath.Join(t.TempDir(), "job")
		job := &streams.Job{BuildKey: streams.BuildKey{Crate: "cfg-if", Version: "1.0.0"}, CrateSource: source}
		ws, err := New(dir, job, testBuildUID, testBuildUID+1, st)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ws.Close)
		for rel, text := range map[string]string{"wrapper/lib.rs": "", "wrapper/.cargo/config.toml": cargoConfig(ws.LocalSource(source))} {
			fi, err := os.Stat(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, rel))
			// A registry's config names the job dir's vendor dir: never stocked.
			linked := st != nil && !(streams.IsRegistrySource(source) && strings.HasSuffix(rel, "config.toml"))
			if links := fi.Sys().(*syscall.Stat_t).Nlink; string(b) != text || linked != (links > 1) {
				t.Errorf("stock %v: %s holds %q with %d links, want %q, linked %v", st != nil, rel, b, links, text, linked)
			}
		}
		// The target is made only for an attempt without a shared one.
		if _, err := os.Lstat(ws.Target()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("New made the target (%v)", err)
		}
		if err := ws.MakeTarget(); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{ // path: owner
			".": 0, "wrapper": 0, "wrapper/Cargo.toml": 0, "wrapper/lib.rs": 0, "wrapper/.cargo": 0,
			"wrapper/.cargo/config.toml": 0, "wrapper/Cargo.lock": testBuildUID,
			"target": testBuildUID, "home": testBuildUID, "cargo-home": testBuildUID,
		}
		if streams.IsRegistrySource(source) {
			want["vendor"] = 0
		}
		for rel, uid := range want {
			fi, err := os.Lstat(filepath.Join(dir, rel))
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != uid || (uid != 0 && int(st.Gid) != testBuildUID+1) || fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("%s: owner %d:%d mode %v, want owner %d and writable by its owner only", rel, st.Uid, st.Gid, fi.Mode(), uid)
			}
		}
	}
}

// A stocked file rewritten in one job dir (here the cargo config, as
// UseRegistry does) changes there alone: the stock file it was a link
// to, and the other job dirs linking to it, keep theirs.
func TestStockFileRewrittenAlone(t *testing.T) {
	stock, err := NewStock(filepath.Join(t.TempDir(), "stock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stock.Close() })
	source := "/usr/share/cargo/registry"
	var wss []*Workspace
	for range 2 {
		job := &streams.Job{BuildKey: streams.BuildKey{Crate: "cfg-if", Version: "1.0.0"}, CrateSource: source}
		ws, err := New(filepath.Join(t.TempDir(), "job"), job, testBuildUID, testBuildUID, stock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ws.Close)
		wss = append(wss, ws)
	}
	if err := wss[0].UseRegistry(WrapperDir, "sparse+http://127.0.0.1:1/index/"); err != nil {
		t.Fatal(err)
	}
	config := func(ws *Workspace) string {
		b, _ := os.ReadFile(filepath.Join(ws.Wrapper(), ".cargo/config.toml"))
		return string(b)
	}
	if got, want := config(wss[0]), registryConfig("sparse+http://127.0.0.1:1/index/"); got != want {
		t.Errorf("the job dir's config after UseRegistry:\n%s\nwant\n%s", got, want)
	}
	if got, want := config(wss[1]), cargoConfig(source); got != want {
		t.Errorf("another job dir's config changed with it:\n%s\nwant\n%s", got, want)
	}
}

// Nothing the builder does in a job dir leaves it, whatever a build made
// of it: a package dir turned into a symlink to a host dir, a Cargo.lock
// turned into a link to /dev/zero or an endless file; and once crate code
// ran it touches nothing at all.
func TestWorkspaceStaysInJobDir(t *testing.T) {
	outside := t.TempDir()
	src := filepath.Join("../testdata/registry/ejecta-testfail-0.1.0")

	ws := testWorkspace(t)
	os.Symlink(outside, filepath.Join(ws.dir, CrateDir))
	if err := ws.CopyCrate(src, "/reg", false); err == nil {
		t.Error("copyCrate through a symlinked crate dir succeeded")
	}
	if err := ws.writeFile("crate/.cargo/config.toml", "x"); err == nil {
		t.Error("writeFile through a symlinked crate dir succeeded")
	}
	os.Symlink("/dev/zero", filepath.Join(ws.dir, "zero.lock"))
	if _, err := ws.readFile("zero.lock"); err == nil {
		t.Error("readFile followed a link to /dev/zero")
	}
	big, _ := os.Create(filepath.Join(ws.dir, "big.lock"))
	big.Truncate(maxManifestBytes + 1)
	big.Close()
	if _, err := ws.readFile("big.lock"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("readFile of a huge file: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("the builder wrote %d entries outside the job dir", len(ents))
	}

	ws = testWorkspace(t)
	ws.MarkHostile()
	for name, err := range map[string]error{
		"copyCrate": ws.CopyCrate(src, "/reg", false),
		"writeFile": ws.writeFile("wrapper/.cargo/config.toml", "x"),
		"buildFile": ws.buildFile("wrapper/Cargo.lock"),
		"readFile":  func() error { _, err := ws.readFile("wrapper/Cargo.lock"); return err }(),
	} {
		if !errors.Is(err, ErrHostile) {
			t.Errorf("%s after crate code ran: %v, want ErrHostile", name, err)
		}
	}
}

// A crate source's manifest that is huge, a link or a FIFO (which would
// block the slot for ever) is not the crate's manifest; a real one is.
func TestFindCrateDirBoundedReads(t *testing.T) {
	reg := t.TempDir()
	mk := func(dir string) string {
		d := filepath.Join(reg, dir)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(d, "Cargo.toml")
	}
	manifest := "[package]\nname = \"foo\"\nversion = \"1.0.0\"\n"
	big := mk("foo-1.0.0")
	f, _ := os.Create(big)
	f.WriteString(manifest)
	f.Truncate(maxManifestBytes + 1)
	f.Close()
	if err := syscall.Mkfifo(mk("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(t.TempDir(), "Cargo.toml")
	os.WriteFile(real, []byte(manifest), 0o644)
	os.Symlink(real, mk("link"))

	done := make(chan error, 1)
	go func() { _, err := FindCrate(reg, "foo", "1.0.0"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrCrateNotFound) {
			t.Errorf("findCrateDir over a huge, a FIFO and a linked manifest: %v, want not found", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("findCrateDir blocked on a FIFO")
	}
	os.WriteFile(filepath.Join(reg, "ok"), nil, 0o644)
	os.Mkdir(filepath.Join(reg, "good"), 0o755)
	os.WriteFile(filepath.Join(reg, "good", "Cargo.toml"), []byte(manifest), 0o644)
	if d, err := FindCrate(reg, "foo", "1.0.0"); err != nil || d != filepath.Join(reg, "good") {
		t.Errorf("findCrateDir = %q, %v; want the real manifest's dir", d, err)
	}
}
