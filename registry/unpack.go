package registry

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxUnpackedBytes bounds what one .crate file may unpack to, twice: the
// tar stream it decompresses to, headers and skipped entries included
// (cargo, unpacking a .crate itself, stops at 512 MiB or 20 times the
// .crate's size, whichever is more), and the disk its files and
// directories take, counted as the disk does: a file its size in 4 KiB
// blocks and at least one, a directory one block.
const MaxUnpackedBytes = 1 << 30

// MaxUnpackedEntries bounds the files and directories (inodes) one .crate
// file may unpack to, the directories on the way to a file included. The
// crates with the most files are generated code: stm32-metapac 21.0.0 has
// 6,851; svd2rust's peripheral access crates a few thousand each (the ten
// of atsamx7x-rust over 40,000 between them). Without a bound, a .crate
// of a few hundred KiB of empty entries makes hundreds of thousands.
const MaxUnpackedEntries = 1 << 16

// blockSize is what the disk takes, at least, for a file or a directory.
const blockSize = 4096

// bounds are what one .crate file may unpack to.
type bounds struct {
	bytes   int64 // of the tar stream, and of the disk taken
	entries int64 // files and directories
}

var defaultBounds = bounds{bytes: MaxUnpackedBytes, entries: MaxUnpackedEntries}

// Unpack unpacks v's .crate file (a gzipped tar whose every entry is under
// "<name>-<version>/") into dir/<name>-<version>, the layout of a cargo
// directory source, with the .cargo-checksum.json that makes cargo accept
// it for a lockfile holding v's cksum. An entry outside that prefix, a
// link, or more than MaxUnpackedBytes or MaxUnpackedEntries is refused,
// and what was unpacked of it removed: a .crate file is untrusted input. A
// crate already unpacked there is left as it is.
func Unpack(r io.Reader, dir string, v Version) error {
	prefix := v.Name + "-" + v.Vers
	if strings.ContainsAny(prefix, `/\`) || prefix == ".." {
		return fmt.Errorf("unpack crate %s %s: bad name or version", v.Name, v.Vers)
	}
	dest := filepath.Join(dir, prefix)
	if _, err := os.Stat(filepath.Join(dest, ".cargo-checksum.json")); err == nil {
		return nil
	}
	// A crash mid-unpack leaves a dir without the checksum file: redo it.
	if err := os.RemoveAll(dest); err != nil {
		return fmt.Errorf("unpack crate %s %s: %w", v.Name, v.Vers, err)
	}
	if err := unpack(r, dest, prefix, defaultBounds); err != nil {
		os.RemoveAll(dest)
		return fmt.Errorf("unpack crate %s %s: %w", v.Name, v.Vers, err)
	}
	sum, err := json.Marshal(map[string]any{"files": map[string]string{}, "package": v.Cksum})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dest, ".cargo-checksum.json"), sum, 0o644); err != nil {
		return fmt.Errorf("unpack crate %s %s: %w", v.Name, v.Vers, err)
	}
	return nil
}

func unpack(r io.Reader, dest, prefix string, limit bounds) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	tr := tar.NewReader(&boundedReader{r: zr, max: limit.bytes})
	u := unpacker{dest: dest, limit: limit}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name := path.Clean(h.Name)
		rel, ok := strings.CutPrefix(name, prefix+"/")
		if name == prefix {
			rel, ok = ".", true
		}
		if !ok || strings.HasPrefix(rel, "../") || rel == ".." || path.IsAbs(h.Name) || strings.Contains(h.Name, `\`) {
			return fmt.Errorf("entry %q is outside %s/", h.Name, prefix)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := u.mkdirs(rel); err != nil {
				return err
			}
		case tar.TypeReg:
			if rel == "." {
				return fmt.Errorf("entry %q is a file, want a directory", h.Name)
			}
			if err := u.mkdirs(path.Dir(rel)); err != nil {
				return err
			}
			if err := u.take(1, blocks(h.Size)); err != nil {
				return err
			}
			if err := writeEntry(filepath.Join(dest, filepath.FromSlash(rel)), tr, h); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("entry %q is a link; a .crate file holds files only", h.Name)
		default:
			// Global headers and the like carry no file.
		}
	}
	if _, err := os.Stat(dest); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no entry under %s/", prefix)
	}
	return nil
}

// unpacker counts what one unpack has made against its bounds.
type unpacker struct {
	dest            string
	limit           bounds
	entries, blocks int64
}

// take counts n more entries of the given blocks, or says which bound
// they would pass.
func (u *unpacker) take(n, blocks int64) error {
	u.entries += n
	u.blocks += blocks
	switch {
	case u.entries > u.limit.entries:
		return fmt.Errorf("unpacks to more than %d files and directories", u.limit.entries)
	case u.blocks > u.limit.bytes/blockSize:
		return fmt.Errorf("unpacks to more than %d MiB", u.limit.bytes>>20)
	}
	return nil
}

// blocks is how many blocks a file of size bytes takes: one at least.
func blocks(size int64) int64 {
	n := size / blockSize
	if size%blockSize != 0 || n == 0 {
		n++
	}
	return n
}

// mkdirs makes dest/rel and the directories on the way, counting those
// that did not exist first. A file's path may make many: the tar needs no
// entry for them.
func (u *unpacker) mkdirs(rel string) error {
	var missing int64
	for p := rel; ; p = path.Dir(p) {
		_, err := os.Lstat(filepath.Join(u.dest, filepath.FromSlash(p)))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing++
		if p == "." {
			break // dest itself
		}
	}
	if missing == 0 {
		return nil
	}
	if err := u.take(missing, missing); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(u.dest, filepath.FromSlash(rel)), 0o755)
}

// boundedReader reads the decompressed tar and fails once it passes max
// bytes: a gzip file of a few MiB inflates to hundreds of GiB, which the
// tar reader would read through to skip an entry that makes nothing.
type boundedReader struct {
	r         io.Reader
	max, read int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if left := b.max - b.read; int64(len(p)) > left+1 {
		p = p[:left+1] // one byte past the bound tells
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.max {
		return n, fmt.Errorf("decompresses to more than %d MiB", b.max>>20)
	}
	return n, err
}

func writeEntry(to string, r io.Reader, h *tar.Header) error {
	mode := os.FileMode(0o644)
	if h.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.LimitReader(r, h.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
