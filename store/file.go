package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// File keeps objects as files under a directory. Every access goes through
// an os.Root, so neither a key nor a symlink planted in the tree can reach a
// file outside the directory.
type File struct {
	dir string // absolute, cleaned

	// syncDir makes a directory's entries durable; tests replace it.
	syncDir func(root *os.Root, dir string) error

	mu sync.Mutex
	// onDisk holds directories whose own entry is known to be durable: their
	// parent was synced after they were made. A Put syncs the parent of each
	// directory above its object that is not in it: the directories it made,
	// and those a concurrent Put made and has not synced yet. (A directory
	// removed and made again behind the store's back is not noticed.)
	onDisk map[string]bool
}

// maxOnDisk bounds File.onDisk: past it the set starts over, which costs
// a few syncs more, not durability.
const maxOnDisk = 4096

var _ Store = (*File)(nil)

// NewFile returns a store rooted at dir, creating dir if needed.
func NewFile(dir string) (*File, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file store %s: %w", dir, err)
	}
	var made []string // the directories MkdirAll makes, deepest first
	for d := abs; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("file store %s: %w", abs, err)
	}
	// Every object lives under them: they must survive a crash as the
	// objects do.
	for _, d := range made {
		if err := syncPath(filepath.Dir(d)); err != nil {
			return nil, fmt.Errorf("file store %s: sync directory %s: %w", abs, filepath.Dir(d), err)
		}
	}
	return &File{dir: abs, syncDir: syncDir, onDisk: map[string]bool{}}, nil
}

// Put writes r to a temporary file beside the object and renames it into
// place once it is complete and synced, so a reader (or a crash) sees the
// old object or the new one, never a part. Before it returns it syncs the
// object's directory, and each directory above it not yet known to be on
// disk, so that a crash cannot lose an object Put said was stored. The
// content type is not kept: a file has none.
func (f *File) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) (err error) {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer root.Close()

	if dir := path.Dir(key); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	tmp, err := tempName(key)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	w, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			w.Close()
			root.Remove(tmp)
		}
	}()

	n, err := io.Copy(w, ctxReader{ctx, r})
	if err != nil {
		return fmt.Errorf("put %s: write: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %s: read %d bytes, want %d", key, n, size)
	}
	// Without the sync a crash after the rename could leave a complete name
	// over incomplete data, breaking the whole-or-nothing promise.
	if err := w.Sync(); err != nil {
		return fmt.Errorf("put %s: sync: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("put %s: close: %w", key, err)
	}
	if err := root.Rename(tmp, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return f.syncDirs(root, key)
}

// syncDirs makes the rename of key durable: it syncs key's directory, whose
// entry is the new name, then walks up syncing the parent of each directory
// whose own entry may not be on disk yet.
func (f *File) syncDirs(root *os.Root, key string) error {
	syncOne := func(dir string) error {
		if err := f.syncDir(root, dir); err != nil {
			return fmt.Errorf("put %s: sync directory %s: %w", key, filepath.Join(f.dir, filepath.FromSlash(dir)), err)
		}
		return nil
	}
	dir := path.Dir(key)
	if err := syncOne(dir); err != nil {
		return err
	}
	for ; dir != "." && !f.knownOnDisk(dir); dir = path.Dir(dir) {
		if err := syncOne(path.Dir(dir)); err != nil {
			return err
		}
		f.markOnDisk(dir)
	}
	return nil
}

func (f *File) knownOnDisk(dir string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.onDisk[dir]
}

func (f *File) markOnDisk(dir string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.onDisk) >= maxOnDisk {
		clear(f.onDisk)
	}
	f.onDisk[dir] = true
}

// syncDir fsyncs dir, so that the entries it holds (a renamed file, a new
// directory) survive a crash.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// syncPath is syncDir for a directory outside the store.
func syncPath(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get opens the object at key.
func (f *File) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer root.Close() // an open file outlives its root

	r, err := root.Open(key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	// A directory is where objects live, not an object.
	if st, err := r.Stat(); err != nil || !st.Mode().IsRegular() {
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", key, err)
		}
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return r, nil
}

// Location is the absolute path of key's file, or "" for a key ValidateKey
// refuses.
func (f *File) Location(key string) string {
	if ValidateKey(key) != nil {
		return ""
	}
	return filepath.Join(f.dir, filepath.FromSlash(key))
}

// List walks the directory below prefix. A temporary file of a Put under
// way (tempName) is not an object yet; a symlink, a directory or anything
// but a regular file is none either. The walk goes through an os.Root, so
// no link leads it out of the store.
func (f *File) List(ctx context.Context, prefix string) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		if err := ValidatePrefix(prefix); err != nil {
			yield(Object{}, fmt.Errorf("list: %w", err))
			return
		}
		root, err := os.OpenRoot(f.dir)
		if err != nil {
			yield(Object{}, fmt.Errorf("list %s: %w", prefix, err))
			return
		}
		defer root.Close()
		// The deepest directory holding every key with the prefix.
		start := "."
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			start = prefix[:i]
		}
		err = fs.WalkDir(root.FS(), start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // nothing there, or gone since the listing
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				// Below a directory the prefix rules out, nothing matches.
				if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || isTempName(path.Base(p)) {
				return nil
			}
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if !yield(Object{Key: p, Size: fi.Size(), Modified: fi.ModTime()}, nil) {
				return errStopList
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopList) {
			yield(Object{}, fmt.Errorf("list %s: %w", prefix, err))
		}
	}
}

// errStopList ends a walk whose caller stopped asking.
var errStopList = errors.New("list stopped")

// Delete removes key's file, then the directories above it that it left
// empty, up to the store's own.
func (f *File) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	defer root.Close()
	if fi, err := root.Lstat(key); err == nil && fi.IsDir() {
		return nil // a directory is where objects live, not an object
	}
	if err := root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if root.Remove(dir) != nil {
			break // not empty (or gone): the others above it are not either
		}
	}
	return nil
}

// tempName is a name beside key that no other Put uses: hidden, so a
// directory listing of finished objects does not show it.
func tempName(key string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	dir, base := path.Split(key)
	return dir + "." + base + tempMark + hex.EncodeToString(b[:]), nil
}

// tempMark is in every temporary file's name (tempName).
const tempMark = ".tmp-"

// isTempName reports whether a file's base name is one tempName makes.
func isTempName(base string) bool {
	i := strings.LastIndex(base, tempMark)
	return strings.HasPrefix(base, ".") && i > 0 && len(base)-i-len(tempMark) == 16
}

// ctxReader stops a copy when ctx ends: io.Copy has no context of its own.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
