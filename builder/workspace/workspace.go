package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/ejecta-build/ejecta/streams"
)

// WrapperPackage is the name of the package the builder generates around
// the crate under test; its failures are never blamed on a dependency.
const WrapperPackage = "ejecta-wrapper"

// Workspace is one attempt's job dir, the only place a build may write:
//
//	<dir>/wrapper      a package depending on exactly the crate version under test
//	<dir>/crate        a copy of the crate itself, for the modes that need it as root package
//	<dir>/target       CARGO_TARGET_DIR, shared by both, made (MakeTarget) only when the
//	                   attempt does not build in its slot's shared target (SharedTarget,
//	                   outside every job dir)
//	<dir>/home         HOME
//	<dir>/cargo-home   CARGO_HOME
//	<dir>/vendor       the crates fetched from a remote registry, a directory source
//
// # Who may write what
//
// The job dir is mounted writable into every step, but builds run as the
// slot's unprivileged user (the builder's Config.BuildUID), which owns
// only target, home, cargo-home and the packages' Cargo.lock (and the
// crate copy in fix mode, which rewrites its sources). Everything else is
// the builder's, so no build can put a cargo config, a symlink or anything
// else where the builder or a later step would read it: the job dir itself
// (a <dir>/.cargo/config.toml would be read by every cargo run below it),
// the packages and their .cargo dirs, the vendor dir.
//
// # The host never follows what a build wrote
//
// Every file the builder makes or reads in the job dir goes through
// root, an os.Root on it, so no symlink can lead outside, and reads are
// bounded. Even so, all of it happens before any crate code runs (the
// crate copy, the lockfiles, the vendor dir): once a step has run a build
// script, a proc macro or a test (MarkHostile), the builder touches
// nothing in the job dir but to measure it (DiskUsed, through root) and to
// remove it (RemoveTree, which follows no symlink).
type Workspace struct {
	dir      string
	root     *os.Root
	uid, gid int // the slot's build user
	hostile  bool
}

// Dir is the job dir's path on the host.
func (w *Workspace) Dir() string { return w.dir }

// Wrapper, Crate, Target, Home, CargoHome and Vendor are the paths of the
// job dir's parts (see Workspace).
func (w *Workspace) Wrapper() string   { return filepath.Join(w.dir, WrapperDir) }
func (w *Workspace) Crate() string     { return filepath.Join(w.dir, CrateDir) }
func (w *Workspace) Target() string    { return filepath.Join(w.dir, "target") }
func (w *Workspace) Home() string      { return filepath.Join(w.dir, "home") }
func (w *Workspace) CargoHome() string { return filepath.Join(w.dir, "cargo-home") }
func (w *Workspace) Vendor() string    { return filepath.Join(w.dir, vendorDir) }

// The packages, relative to the job dir.
const (
	WrapperDir = "wrapper"
	CrateDir   = "crate"
)

// vendorDir is the vendor dir, relative to the job dir.
const vendorDir = "vendor"

// ErrHostile is returned for any access to a job dir after crate code ran
// in it: a bug of the builder's, never to be worked around.
var ErrHostile = errors.New("builder error: the job dir was touched after crate code ran in it")

// maxManifestBytes bounds what the builder reads of a Cargo.toml or a
// Cargo.lock: a real one is kilobytes.
const maxManifestBytes = 16 << 20

// LocalSource is the directory source the job's steps build from: the
// job's crate source, or the vendor dir when its crates come from a
// registry (see builder/cargo's resolve).
func (w *Workspace) LocalSource(crateSource string) string {
	if streams.IsRegistrySource(crateSource) {
		return w.Vendor()
	}
	return crateSource
}

// New creates the job dir at dir (which must not exist) and the wrapper
// package for job, for builds running as uid:gid. The files the wrapper
// has alike with other job dirs are links to stock's (nil: written).
func New(dir string, job *streams.Job, uid, gid int, stock *Stock) (*Workspace, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create job dir: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open job dir: %w", err)
	}
	w := &Workspace{dir: dir, root: root, uid: uid, gid: gid}
	if err := w.populate(job, stock); err != nil {
		w.Close()
		return nil, fmt.Errorf("create job dir: %w", err)
	}
	return w, nil
}

// populate makes the job dir's parts every attempt needs. Each new file or
// directory is a new inode, the dearest thing the builder asks of the file
// system per job (BENCHMARKS.md, "The no-op job row"), so the job dir has
// no more of them than cargo needs: the target is made only when no shared
// one is used (MakeTarget), and the wrapper's library, an empty file, lies
// beside its manifest ([lib] path) rather than in a src dir of its own;
// it and the cargo config are links to stock files.
func (w *Workspace) populate(job *streams.Job, stock *Stock) error {
	for _, d := range []string{"home", "cargo-home"} {
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
		"[lib]\npath = %q\n\n[dependencies]\n%s = %q\n\n[workspace]\n", WrapperPackage, wrapperLib, job.Crate, "="+job.Version)
	if err := w.writeFile(filepath.Join(WrapperDir, "Cargo.toml"), manifest); err != nil {
		return fmt.Errorf("write wrapper package: %w", err)
	}
	// A directory source's cargo config is the same in every job dir of
	// its experiments; a registry's names the job dir's own vendor dir, so
	// a stock copy of it would serve no other job dir and stay there.
	configStock := stock
	if streams.IsRegistrySource(job.CrateSource) {
		configStock = nil
	}
	for _, f := range []struct {
		name, text string
		stock      *Stock
	}{
		{wrapperLib, "", stock},
		{".cargo/config.toml", cargoConfig(w.LocalSource(job.CrateSource)), configStock},
	} {
		if err := w.stockFile(f.stock, filepath.Join(WrapperDir, f.name), f.text); err != nil {
			return fmt.Errorf("write wrapper package: %w", err)
		}
	}
	return w.buildFile(filepath.Join(WrapperDir, "Cargo.lock"))
}

// stockFile makes rel, the builder's own file holding text, a link to
// stock's file holding it, or writes it when that cannot be: no stock,
// or a link refused (another file system, too many links to the file).
func (w *Workspace) stockFile(stock *Stock, rel, text string) error {
	if w.hostile {
		return ErrHostile
	}
	if err := w.root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	if stock != nil && stock.link(w.root, rel, text) == nil {
		return nil
	}
	return w.replaceFile(rel, text)
}

// wrapperLib is the wrapper package's library, empty, relative to the
// package.
const wrapperLib = "lib.rs"

// MakeTarget makes the job dir's own target, which New leaves out: an
// attempt that builds in its slot's shared target has no use for it.
func (w *Workspace) MakeTarget() error { return w.buildDir("target") }

// Close releases the job dir's handle; the dir itself is removed later.
func (w *Workspace) Close() {
	if w != nil && w.root != nil {
		w.root.Close()
	}
}

// MarkHostile records that crate code is about to run in the job dir.
func (w *Workspace) MarkHostile() { w.hostile = true }

// Hostile reports whether crate code may have run in the job dir.
func (w *Workspace) Hostile() bool { return w.hostile }

// buildDir makes rel, a directory the build writes to, owned by its user.
func (w *Workspace) buildDir(rel string) error {
	if w.hostile {
		return ErrHostile
	}
	if err := w.root.Mkdir(rel, 0o755); err != nil {
		return err
	}
	return w.root.Chown(rel, w.uid, w.gid)
}

// buildFile makes rel, a file cargo writes to (a Cargo.lock), or takes
// the one there, owned by the build's user.
func (w *Workspace) buildFile(rel string) error {
	if w.hostile {
		return ErrHostile
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

// writeFile writes rel, the builder's own file, making its directories. A
// file there already is replaced, never written through: it may be a link
// to a stock file that other job dirs share (UseRegistry rewrites the
// wrapper's cargo config).
func (w *Workspace) writeFile(rel, text string) error {
	if w.hostile {
		return ErrHostile
	}
	if err := w.root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	return w.replaceFile(rel, text)
}

// replaceFile writes rel in its directory, which is there already:
// whatever rel was is removed first, never written through (writeFile).
func (w *Workspace) replaceFile(rel, text string) error {
	if err := w.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := w.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readFile reads rel, at most maxManifestBytes of it.
func (w *Workspace) readFile(rel string) ([]byte, error) {
	if w.hostile {
		return nil, ErrHostile
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

// DecodeTOML reads rel, a manifest or a lockfile, into v.
func (w *Workspace) DecodeTOML(rel string, v any) error {
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

// registryConfig makes cargo read crates.io from the job's registry
// instead; the lockfile still says crates.io, as after `cargo vendor`, so
// the vendor dir can stand in for it later.
func registryConfig(source string) string {
	return fmt.Sprintf("[source.crates-io]\nreplace-with = \"ejecta-registry\"\n\n[source.ejecta-registry]\nregistry = %q\n", source)
}

// UseRegistry points package pkg (WrapperDir or CrateDir) at the remote
// registry source, for its resolution: the one step with the network.
func (w *Workspace) UseRegistry(pkg, source string) error {
	return w.writeFile(filepath.Join(pkg, ".cargo/config.toml"), registryConfig(source))
}

// UseVendor points package pkg at the vendor dir, a directory source
// holding what its resolution fetched: every later step is offline.
func (w *Workspace) UseVendor(pkg string) error {
	return w.writeFile(filepath.Join(pkg, ".cargo/config.toml"), cargoConfig(w.Vendor()))
}
