package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

// A registry of symlinks (as testenv.CrateRegistry and the demo make):
// the copy is a real directory and the source stays untouched.
func TestCopyCrateThroughSymlink(t *testing.T) {
	orig, err := filepath.Abs("../testdata/registry/ejecta-testfail-0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(orig, "Cargo.toml"))
	reg := t.TempDir()
	link := filepath.Join(reg, "ejecta-testfail-0.1.0")
	if err := os.Symlink(orig, link); err != nil {
		t.Fatal(err)
	}
	ws := testWorkspace(t)
	if err := ws.CopyCrate(link, reg, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(ws.Crate()); err != nil || !fi.IsDir() {
		t.Fatalf("crate copy is not a directory: %v %v", fi, err)
	}
	after, _ := os.ReadFile(filepath.Join(orig, "Cargo.toml"))
	if string(after) != string(before) {
		t.Errorf("the source's manifest changed:\n%s", after)
	}
	if _, err := os.Stat(filepath.Join(orig, ".cargo")); !os.IsNotExist(err) {
		t.Errorf("a .cargo dir was written into the source (%v)", err)
	}
}
