package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/BurntSushi/toml"
)

// ErrCrateNotFound: the directory source has no dir for the crate version.
var ErrCrateNotFound = errors.New("crate source not found")

// FindCrate returns the crate's dir in a directory source: normally
// <name>-<version>, otherwise whichever dir's Cargo.toml names that package
// and version (sources are not obliged to follow the naming). The source
// is the operator's or the vendor dir the builder filled before any crate
// code ran.
func FindCrate(source, name, version string) (string, error) {
	naive := filepath.Join(source, name+"-"+version)
	if matchesManifest(naive, name, version) {
		return naive, nil
	}
	ents, err := os.ReadDir(source)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", source, ErrCrateNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("list crate source: %w", err)
	}
	for _, e := range ents {
		if d := filepath.Join(source, e.Name()); e.IsDir() && matchesManifest(d, name, version) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s %s in %s: %w", name, version, source, ErrCrateNotFound)
}

func matchesManifest(dir, name, version string) bool {
	var m struct {
		Package struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
		} `toml:"package"`
	}
	data, err := readManifest(filepath.Join(dir, "Cargo.toml"))
	if err != nil {
		return false
	}
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		return false
	}
	return m.Package.Name == name && m.Package.Version == version
}

// readManifest reads a crate's manifest in a crate source: a regular
// file, not a link (its crate's directory may be one) nor a FIFO that
// would block the slot, of at most maxManifestBytes. A registry's crate is
// whatever its author packed.
func readManifest(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s: not a regular file", path)
	case fi.Size() > maxManifestBytes:
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxManifestBytes>>20)
	}
	return io.ReadAll(io.LimitReader(f, maxManifestBytes))
}

// CopyCrate copies the crate's source into the workspace so it can be
// built as the root package, with the same offline cargo config. The copy
// is the builder's, read-only to builds, as the crate source is; writable
// (fix mode) gives it to the build's user.
func (w *Workspace) CopyCrate(src, source string, writable bool) error {
	if w.hostile {
		return ErrHostile
	}
	// A registry may hold its crates as symlinks: copy what the link
	// points to, never the link, or the crate's files would be written
	// to in the source itself.
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	own := func(rel string) error {
		if !writable {
			return nil
		}
		return w.root.Lchown(rel, w.uid, w.gid)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(CrateDir, rel)
		switch {
		case d.IsDir():
			// A crate's own cargo config (.cargo/config, which cargo
			// prefers to the .cargo/config.toml written below) could
			// replace the sources, or name programs for cargo to run
			// where the job has the network: the builder's config is
			// the only one.
			if rel == "target" || rel == ".cargo" {
				return filepath.SkipDir
			}
			if err := w.root.Mkdir(to, 0o755); err != nil {
				return err
			}
			return own(to)
		case rel == ".cargo-checksum.json":
			return nil // a directory source's bookkeeping, not part of the crate
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := w.root.Symlink(target, to); err != nil {
				return err
			}
			return own(to)
		case d.Type().IsRegular():
			if err := w.copyFile(path, to); err != nil {
				return err
			}
			return own(to)
		}
		return nil // devices, sockets: nothing a crate needs
	})
	if err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	if err := w.writeFile(filepath.Join(CrateDir, ".cargo/config.toml"), cargoConfig(source)); err != nil {
		return fmt.Errorf("write crate cargo config: %w", err)
	}
	if err := w.buildFile(filepath.Join(CrateDir, "Cargo.lock")); err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	return w.ensureWorkspaceRoot(filepath.Join(CrateDir, "Cargo.toml"))
}

// ensureWorkspaceRoot appends an empty [workspace] to a manifest that has
// none, for the same reason as the wrapper's.
func (w *Workspace) ensureWorkspaceRoot(manifest string) error {
	var m map[string]any
	if err := w.DecodeTOML(manifest, &m); err != nil {
		return nil // cargo will report the broken manifest itself, in the log
	}
	if _, ok := m["workspace"]; ok {
		return nil
	}
	f, err := w.root.OpenFile(manifest, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("make crate a workspace root: %w", err)
	}
	_, err = f.WriteString("\n[workspace]\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("make crate a workspace root: %w", err)
	}
	return nil
}

// copyFile copies the host file from to rel in the job dir, keeping its
// permission bits but for setuid and setgid.
func (w *Workspace) copyFile(from, rel string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := w.root.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
