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

// MaxUnpackedBytes bounds what one .crate file may unpack to.
const MaxUnpackedBytes = 1 << 30

// Unpack unpacks v's .crate file (a gzipped tar whose every entry is under
// "<name>-<version>/") into dir/<name>-<version>, the layout of a cargo
// directory source, with the .cargo-checksum.json that makes cargo accept
// it for a lockfile holding v's cksum. An entry outside that prefix, a
// link, or more than MaxUnpackedBytes is refused: a .crate file is
// untrusted input. A crate already unpacked there is left as it is.
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
	if err := unpack(r, dest, prefix); err != nil {
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

func unpack(r io.Reader, dest, prefix string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip file: %w", err)
	}
	tr := tar.NewReader(zr)
	var total int64
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
		if !ok && name != prefix || strings.HasPrefix(rel, "../") || rel == ".." || path.IsAbs(h.Name) || strings.Contains(h.Name, `\`) {
			return fmt.Errorf("entry %q is outside %s/", h.Name, prefix)
		}
		to := filepath.Join(dest, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxUnpackedBytes {
				return fmt.Errorf("unpacks to more than %d MiB", MaxUnpackedBytes>>20)
			}
			if err := writeEntry(to, tr, h); err != nil {
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

func writeEntry(to string, r io.Reader, h *tar.Header) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
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
