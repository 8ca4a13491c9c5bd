package builder

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/ejecta-build/ejecta/streams"
)

// wrapperPackage is the name of the package the builder generates around
// the crate under test; its failures are never blamed on a dependency.
const wrapperPackage = "ejecta-wrapper"

// workspace is one attempt's job dir, the only place a build may write:
//
//	<dir>/wrapper      a package depending on exactly the crate version under test
//	<dir>/crate        a copy of the crate itself, for the modes that need it as root package
//	<dir>/target       CARGO_TARGET_DIR, shared by both
//	<dir>/home         HOME
//	<dir>/cargo-home   CARGO_HOME
//	<dir>/vendor       the crates fetched from a remote registry, a directory source
//
// # Who may write what
//
// The job dir is mounted writable into every step, but builds run as the
// slot's unprivileged user (Config.BuildUID), which owns only target,
// home, cargo-home and the packages' Cargo.lock (and the crate copy in fix
// mode, which rewrites its sources). Everything else is the builder's, so
// no build can put a cargo config, a symlink or anything else where the
// builder or a later step would read it: the job dir itself (a
// <dir>/.cargo/config.toml would be read by every cargo run below it),
// the packages and their .cargo dirs, the vendor dir.
//
// # The host never follows what a build wrote
//
// Every file the builder makes or reads in the job dir goes through
// root, an os.Root on it, so no symlink can lead outside, and reads are
// bounded. Even so, all of it happens before any crate code runs (the
// crate copy, the lockfiles, the vendor dir): once a step has run a build
// script, a proc macro or a test (markHostile), the builder touches
// nothing in the job dir but to remove it (os.RemoveAll, which follows no
// symlink).
type workspace struct {
	dir      string
	root     *os.Root
	uid, gid int // the slot's build user
	hostile  bool
}

func (w *workspace) wrapper() string   { return filepath.Join(w.dir, wrapperDir) }
func (w *workspace) crate() string     { return filepath.Join(w.dir, crateDir) }
func (w *workspace) target() string    { return filepath.Join(w.dir, "target") }
func (w *workspace) home() string      { return filepath.Join(w.dir, "home") }
func (w *workspace) cargoHome() string { return filepath.Join(w.dir, "cargo-home") }
func (w *workspace) vendor() string    { return filepath.Join(w.dir, vendorDir) }

// The packages and the vendor dir, relative to the job dir.
const (
	wrapperDir = "wrapper"
	crateDir   = "crate"
	vendorDir  = "vendor"
)

// errHostile is returned for any access to a job dir after crate code ran
// in it: a bug of the builder's, never to be worked around.
var errHostile = errors.New("builder error: the job dir was touched after crate code ran in it")

// maxManifestBytes bounds what the builder reads of a Cargo.toml or a
// Cargo.lock: a real one is kilobytes.
const maxManifestBytes = 16 << 20

// localSource is the directory source the job's steps build from: the
// job's crate source, or the vendor dir when its crates come from a
// registry (see builder/source.go).
func (w *workspace) localSource(crateSource string) string {
	if streams.IsRegistrySource(crateSource) {
		return w.vendor()
	}
	return crateSource
}

// jobDirName is "<id>-<slot>-<attempt>-<random>". The random part keeps a
// retried attempt from meeting a dir a slow removal has not finished with.
func jobDirName(id string, slot, attempt int) (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("random job dir suffix: %w", err)
	}
	return fmt.Sprintf("%s-%d-%d-%s", id, slot, attempt, hex.EncodeToString(r[:])), nil
}

// isJobDirOf reports whether name is a job dir of builder id. Builder IDs may
// contain '-', so "a-1-0-3-…" belongs to builder "a-1", not to "a": exactly
// three tokens must follow the ID.
func isJobDirOf(name, id string) bool {
	rest, ok := strings.CutPrefix(name, id+"-")
	if !ok {
		return false
	}
	toks := strings.Split(rest, "-")
	if len(toks) != 3 {
		return false
	}
	for _, t := range toks[:2] {
		if _, err := strconv.ParseUint(t, 10, 32); err != nil {
			return false
		}
	}
	_, err := hex.DecodeString(toks[2])
	return err == nil && len(toks[2]) == 8
}

// removeJobDirs removes every job dir of builder id under workDir. One it
// cannot remove is left, its error joined to the others: a job dir a
// build made hard to remove must not keep the builder from starting.
func removeJobDirs(workDir, id string) (int, error) {
	ents, err := os.ReadDir(workDir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", workDir, err)
	}
	n := 0
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !isJobDirOf(e.Name(), id) {
			continue
		}
		if err := removeTree(filepath.Join(workDir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove job dir: %w", err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// newWorkspace creates the job dir at dir (which must not exist) and the
// wrapper package for job, for builds running as uid:gid.
func newWorkspace(dir string, job *streams.Job, uid, gid int) (*workspace, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create job dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open job dir: %w", err)
	}
	w := &workspace{dir: dir, root: root, uid: uid, gid: gid}
	if err := w.populate(job); err != nil {
		w.close()
		return nil, fmt.Errorf("create job dir: %w", err)
	}
	return w, nil
}

func (w *workspace) populate(job *streams.Job) error {
	for _, d := range []string{"target", "home", "cargo-home"} {
		if err := w.buildDir(d); err != nil {
			return err
		}
	}
	if streams.IsRegistrySource(job.CrateSource) {
		if err := w.root.Mkdir(vendorDir, 0o755); err != nil {
			return err
		}
	}
	// An empty [workspace] makes the wrapper its own workspace root, so
	// cargo never wanders up the host's directories looking for one.
	manifest := fmt.Sprintf("[package]\nname = %q\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n"+
		"[dependencies]\n%s = %q\n\n[workspace]\n", wrapperPackage, job.Crate, "="+job.Version)
	files := map[string]string{
		"Cargo.toml":         manifest,
		"src/lib.rs":         "",
		".cargo/config.toml": cargoConfig(w.localSource(job.CrateSource)),
	}
	for name, text := range files {
		if err := w.writeFile(filepath.Join(wrapperDir, name), text); err != nil {
			return fmt.Errorf("write wrapper package: %w", err)
		}
	}
	return w.buildFile(filepath.Join(wrapperDir, "Cargo.lock"))
}

// close releases the job dir's handle; the dir itself is removed later.
func (w *workspace) close() {
	if w != nil && w.root != nil {
		w.root.Close()
	}
}

// markHostile records that crate code is about to run in the job dir.
func (w *workspace) markHostile() { w.hostile = true }

// buildDir makes rel, a directory the build writes to, owned by its user.
func (w *workspace) buildDir(rel string) error {
	if w.hostile {
		return errHostile
	}
	if err := w.root.Mkdir(rel, 0o755); err != nil {
		return err
	}
	return w.root.Chown(rel, w.uid, w.gid)
}

// buildFile makes rel, a file cargo writes to (a Cargo.lock), or takes
// the one there, owned by the build's user.
func (w *workspace) buildFile(rel string) error {
	if w.hostile {
		return errHostile
	}
	f, err := w.root.OpenFile(rel, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	err = f.Chown(w.uid, w.gid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFile writes rel, the builder's own file, making its directories.
func (w *workspace) writeFile(rel, text string) error {
	if w.hostile {
		return errHostile
	}
	if err := w.root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	return w.root.WriteFile(rel, []byte(text), 0o644)
}

// readFile reads rel, at most maxManifestBytes of it.
func (w *workspace) readFile(rel string) ([]byte, error) {
	if w.hostile {
		return nil, errHostile
	}
	f, err := w.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", rel, maxManifestBytes>>20)
	}
	return b, nil
}

// decodeTOML reads rel into v.
func (w *workspace) decodeTOML(rel string, v any) error {
	b, err := w.readFile(rel)
	if err != nil {
		return err
	}
	_, err = toml.NewDecoder(bytes.NewReader(b)).Decode(v)
	return err
}

// cargoConfig makes cargo resolve crates.io from the local directory source
// only: builds run without network, as in crater.
func cargoConfig(source string) string {
	return fmt.Sprintf("[source.crates-io]\nreplace-with = \"local\"\n\n[source.local]\ndirectory = %q\n\n[net]\noffline = true\n", source)
}

// errCrateNotFound: the directory source has no dir for the crate version.
var errCrateNotFound = errors.New("crate source not found")

// findCrateDir returns the crate's dir in a directory source: normally
// <name>-<version>, otherwise whichever dir's Cargo.toml names that package
// and version (sources are not obliged to follow the naming). The source
// is the operator's or the vendor dir the builder filled before any crate
// code ran.
func findCrateDir(source, name, version string) (string, error) {
	naive := filepath.Join(source, name+"-"+version)
	if matchesManifest(naive, name, version) {
		return naive, nil
	}
	ents, err := os.ReadDir(source)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", source, errCrateNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("list crate source: %w", err)
	}
	for _, e := range ents {
		if d := filepath.Join(source, e.Name()); e.IsDir() && matchesManifest(d, name, version) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s %s in %s: %w", name, version, source, errCrateNotFound)
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

// copyCrate copies the crate's source into the workspace so it can be
// built as the root package, with the same offline cargo config. The copy
// is the builder's, read-only to builds, as the crate source is; writable
// (fix mode) gives it to the build's user.
func (w *workspace) copyCrate(src, source string, writable bool) error {
	if w.hostile {
		return errHostile
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
		to := filepath.Join(crateDir, rel)
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
	if err := w.writeFile(filepath.Join(crateDir, ".cargo/config.toml"), cargoConfig(source)); err != nil {
		return fmt.Errorf("write crate cargo config: %w", err)
	}
	if err := w.buildFile(filepath.Join(crateDir, "Cargo.lock")); err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	return w.ensureWorkspaceRoot(filepath.Join(crateDir, "Cargo.toml"))
}

// ensureWorkspaceRoot appends an empty [workspace] to a manifest that has
// none, for the same reason as the wrapper's.
func (w *workspace) ensureWorkspaceRoot(manifest string) error {
	var m map[string]any
	if err := w.decodeTOML(manifest, &m); err != nil {
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
func (w *workspace) copyFile(from, rel string) error {
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
