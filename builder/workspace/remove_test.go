package workspace

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A tree far deeper than paths may be long, with files at every level,
// a directory closed to everyone and a link out of it, is taken apart
// without following the link: os.RemoveAll would hold a file open per
// level, more than a builder may have.
func TestTakeApartDeepTree(t *testing.T) {
	outside := t.TempDir()
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "job")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const depth = 3000 // 6000 bytes of path: deeper than PATH_MAX allows naming
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range depth {
		if i%100 == 0 {
			f, err := unix.Openat(fd, "file", unix.O_CREAT|unix.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(f)
			if err := unix.Symlinkat(outside, fd, "link"); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i == depth/2 {
			unix.Fchmod(next, 0) // closed: root goes in all the same
		}
		unix.Close(fd)
		fd = next
	}
	unix.Close(fd)

	if err := takeApart(dir); err != nil {
		t.Fatalf("takeApart: %v", err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", dir, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file behind a link out of the tree was removed: %v", err)
	}
}
