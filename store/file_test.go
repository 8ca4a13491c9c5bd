package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		st, err := NewFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestFileLocation(t *testing.T) {
	dir := t.TempDir()
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, st, "exp/logs/1.log", "x")
	loc := st.Location("exp/logs/1.log")
	if want := filepath.Join(dir, "exp", "logs", "1.log"); loc != want || !filepath.IsAbs(loc) {
		t.Errorf("Location = %q, want absolute %q", loc, want)
	}
	if data, err := os.ReadFile(loc); err != nil || string(data) != "x" {
		t.Errorf("ReadFile(Location) = %q, %v", data, err)
	}
}

// A symlink inside the store must not let Put or Get reach outside it, even
// though every key is valid.
func TestFileSymlinkEscape(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if rc, err := st.Get(ctx, "link/secret"); err == nil {
		rc.Close()
		t.Error("Get through a symlink out of the store succeeded")
	}
	if err := st.Put(ctx, "link/planted", strings.NewReader("x"), -1, ""); err == nil {
		t.Error("Put through a symlink out of the store succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("Put wrote outside the store")
	}
}

// A failed Put leaves no temporary file behind.
func TestFileFailedPutLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReader("abc")
	if err := st.Put(context.Background(), "d/k", r, 10, ""); err == nil {
		t.Fatal("Put of 3 bytes announced as 10: no error")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
}
