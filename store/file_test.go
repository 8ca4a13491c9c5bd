package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// A copy in a directory store is a hard link: the same file under two
// names, no byte of disk more.
func TestFileCopyObjectLinks(t *testing.T) {
	dir := t.TempDir()
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, st, "logs/a.log", "the log\n")
	if err := st.CopyObject(context.Background(), "crater/a/log.txt", "logs/a.log"); err != nil {
		t.Fatal(err)
	}
	src, err1 := os.Stat(filepath.Join(dir, "logs", "a.log"))
	dst, err2 := os.Stat(filepath.Join(dir, "crater", "a", "log.txt"))
	if err1 != nil || err2 != nil || !os.SameFile(src, dst) {
		t.Errorf("copy is not a link to the log: %v, %v", err1, err2)
	}
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

// A Put syncs its object's directory, and the directories above it until
// one already known to be on disk, with the real fsync; it leaves no
// temporary file.
func TestFilePutSyncsDirectories(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made", "by", "NewFile")
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	st.syncDir = func(root *os.Root, d string) error {
		synced = append(synced, d)
		return syncDir(root, d)
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"a/b/c/k", []string{"a/b/c", "a/b", "a", "."}},
		{"a/b/c/k2", []string{"a/b/c"}},
		{"a/b/x/k", []string{"a/b/x", "a/b"}},
		{"top", []string{"."}},
	} {
		synced = nil
		if err := st.Put(context.Background(), tc.key, strings.NewReader("data"), 4, ""); err != nil {
			t.Fatalf("Put %s: %v", tc.key, err)
		}
		if !slices.Equal(synced, tc.want) {
			t.Errorf("Put %s synced %q, want %q", tc.key, synced, tc.want)
		}
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if want := []string{"a/b/c/k", "a/b/c/k2", "a/b/x/k", "top"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
}

// A directory that cannot be synced fails the Put with an error naming it,
// and is synced again by the next Put.
func TestFilePutReportsDirectorySyncError(t *testing.T) {
	dir := t.TempDir()
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	eio := errors.New("input/output error")
	var synced []string
	st.syncDir = func(_ *os.Root, d string) error {
		synced = append(synced, d)
		if d == "d" {
			return eio
		}
		return nil
	}
	err = st.Put(context.Background(), "d/e/k", strings.NewReader("x"), 1, "")
	if want := "put d/e/k: sync directory " + filepath.Join(dir, "d") + ": input/output error"; !errors.Is(err, eio) || err.Error() != want {
		t.Fatalf("Put: %v, want %q wrapping the sync's error", err, want)
	}
	st.syncDir = func(_ *os.Root, d string) error {
		synced = append(synced, d)
		return nil
	}
	synced = nil
	if err := st.Put(context.Background(), "d/e/k2", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if want := []string{"d/e", "d", "."}; !slices.Equal(synced, want) {
		t.Errorf("the Put after the failure synced %q, want %q", synced, want)
	}
}

// List shows objects only: not a Put's temporary file, not what a link
// planted in the directory leads to; Delete leaves no empty directory.
func TestFileListAndDelete(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	st, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put(t, st, "exp/logs/a/1.log", "x")
	os.WriteFile(filepath.Join(dir, "exp/logs/a/.2.log"+tempMark+"0123456789abcdef"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "exp/link"))
	var keys []string
	for o, err := range st.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"exp/logs/a/1.log"}) {
		t.Errorf("List = %q, want the one object", keys)
	}
	os.Remove(filepath.Join(dir, "exp/logs/a/.2.log"+tempMark+"0123456789abcdef"))
	if err := st.Delete(ctx, "exp/logs/a/1.log"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "exp/logs")); !os.IsNotExist(err) {
		t.Errorf("empty directories left after Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "exp")); err != nil {
		t.Errorf("exp, which holds the link, removed: %v", err)
	}
}
