package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrChecksum: a downloaded .crate file does not hash to the index's cksum.
var ErrChecksum = errors.New("checksum mismatch")

// MaxCrateBytes bounds one downloaded .crate file (crates.io's own limit
// is 10 MiB unless raised for a crate).
const MaxCrateBytes = 512 << 20

// Cache keeps downloaded .crate files in a directory, each named by its
// sha256, and removes the least recently used ones once they take more
// than its size bound. Several goroutines may share one Cache; several
// processes must not share its directory.
type Cache struct {
	dir      string
	maxBytes int64
	mu       sync.Mutex // held while evicting and while opening a cached file
}

// OpenCache opens (creating it if needed) the cache in dir, bounded to
// maxBytes, and removes the partial downloads a crash left behind.
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("crate cache %s: size bound %d, want > 0", dir, maxBytes)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("crate cache: %w", err)
	}
	partial, _ := filepath.Glob(filepath.Join(dir, ".partial-*"))
	for _, p := range partial {
		_ = os.Remove(p)
	}
	return &Cache{dir: dir, maxBytes: maxBytes}, nil
}

// Bytes is the size of the cached files.
func (c *Cache) Bytes() (int64, error) {
	files, err := c.files()
	var n int64
	for _, f := range files {
		n += f.size
	}
	return n, err
}

// Fetch returns v's .crate file, open for reading, from the cache or else
// downloaded from the registry and verified against the index's sha256;
// hit says which. The caller closes the file. A file the index's cksum
// does not match is never cached: the error wraps ErrChecksum. What an
// error says is fit for a public build log: what came back from the
// registry (its size, hash or HTTP status) is only in what it logs as
// (fetchError).
func (c *Cache) Fetch(ctx context.Context, reg *Client, v Version) (f *os.File, hit bool, err error) {
	sum := strings.ToLower(v.Cksum)
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
		return nil, false, fmt.Errorf("crate %s %s: index cksum %q is not a sha256", v.Name, v.Vers, v.Cksum)
	}
	path := filepath.Join(c.dir, sum+".crate")
	if f, err := c.open(path); err == nil {
		return f, true, nil
	}
	if err := c.download(ctx, reg, v, sum, path); err != nil {
		return nil, false, err
	}
	if err := c.evict(path); err != nil {
		return nil, false, err
	}
	f, err = c.open(path)
	if err != nil {
		return nil, false, fmt.Errorf("crate %s %s: open cached file: %w", v.Name, v.Vers, err)
	}
	return f, false, nil
}

// open opens a cached file and marks it used now, for the LRU order.
func (c *Cache) open(path string) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return f, nil
}

// download writes v's file to path through a partial file, renamed into
// place only once its sha256 matched.
func (c *Cache) download(ctx context.Context, reg *Client, v Version, sum, path string) error {
	u, err := reg.downloadURL(ctx, v)
	if fe := (*fetchError)(nil); errors.As(err, &fe) {
		return &fetchError{msg: fmt.Sprintf("download crate %s %s: %s", v.Name, v.Vers, fe.msg), kind: fe.kind, detail: fe.detail}
	}
	if err != nil {
		return fmt.Errorf("download crate %s %s: %w", v.Name, v.Vers, err)
	}
	failed := func(kind, detail error, what string) error {
		return &fetchError{msg: fmt.Sprintf("download crate %s %s from %s: %s", v.Name, v.Vers, u, what), kind: kind, detail: detail}
	}
	resp, err := reg.open(ctx, u)
	if err != nil {
		return failed(nil, err, "the download failed")
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp(c.dir, ".partial-*")
	if err != nil {
		return fmt.Errorf("crate cache: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, MaxCrateBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return failed(nil, err, "the download failed")
	case n > MaxCrateBytes:
		return failed(nil, fmt.Errorf("larger than %d MiB", MaxCrateBytes>>20), "the download failed")
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return failed(ErrChecksum, fmt.Errorf("the %d bytes downloaded hash to %s", n, got),
			fmt.Sprintf("%v: the index says sha256 %s", ErrChecksum, sum))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("crate cache: %w", err)
	}
	return nil
}

type cachedFile struct {
	path string
	size int64
	used time.Time
}

func (c *Cache) files() ([]cachedFile, error) {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("crate cache: %w", err)
	}
	var out []cachedFile
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".crate") {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("crate cache: %w", err)
		}
		out = append(out, cachedFile{path: filepath.Join(c.dir, e.Name()), size: info.Size(), used: info.ModTime()})
	}
	return out, nil
}

// evict removes the least recently used files, never keep, until the
// cache fits its bound (or only keep is left).
func (c *Cache) evict(keep string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, err := c.files()
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	slices.SortFunc(files, func(a, b cachedFile) int { return cmp.Or(a.used.Compare(b.used), cmp.Compare(a.path, b.path)) })
	for _, f := range files {
		if total <= c.maxBytes {
			break
		}
		if f.path == keep {
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("crate cache: evict: %w", err)
		}
		total -= f.size
	}
	return nil
}
