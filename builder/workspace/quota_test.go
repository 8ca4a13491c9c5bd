package workspace

import (
	"os"
	"path/filepath"
	"testing"
)

// The measure counts what files take on disk, follows no link out of the
// job dir, and survives a tree deeper than it looks.
func TestDiskUsed(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	big := make([]byte, 1<<20)
	big[0] = 1
	os.WriteFile(filepath.Join(outside, "big"), big, 0o644)
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "data"), big, 0o644)
	os.Symlink(outside, filepath.Join(dir, "link"))
	sparse, _ := os.Create(filepath.Join(dir, "sparse"))
	sparse.Truncate(1 << 30)
	sparse.Close()
	deep := dir
	for range maxQuotaDepth + 10 {
		deep = filepath.Join(deep, "d")
	}
	os.MkdirAll(deep, 0o755)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	used := diskUsed(root, 0)
	if used < 1<<20 || used > 3<<20 {
		t.Errorf("diskUsed = %d bytes, want about the 1 MiB file: not the sparse GiB, not the MiB behind the link", used)
	}
}
