package builder

import (
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

	"github.com/BurntSushi/toml"

	"github.com/ejecta-build/ejecta/streams"
)

// wrapperPackage is the name of the package the builder generates around
// the crate under test; its failures are never blamed on a dependency.
const wrapperPackage = "ejecta-wrapper"

// workspace is one attempt's job dir, the only place the sandbox may write:
//
//	<dir>/wrapper      a package depending on exactly the crate version under test
//	<dir>/crate        a copy of the crate itself, for build-and-test
//	<dir>/target       CARGO_TARGET_DIR, shared by both
//	<dir>/home         HOME
//	<dir>/cargo-home   CARGO_HOME
//	<dir>/vendor       the crates fetched from a remote registry, a directory source
type workspace struct {
	dir string
}

func (w workspace) wrapper() string   { return filepath.Join(w.dir, "wrapper") }
func (w workspace) crate() string     { return filepath.Join(w.dir, "crate") }
func (w workspace) target() string    { return filepath.Join(w.dir, "target") }
func (w workspace) home() string      { return filepath.Join(w.dir, "home") }
func (w workspace) cargoHome() string { return filepath.Join(w.dir, "cargo-home") }
func (w workspace) vendor() string    { return filepath.Join(w.dir, "vendor") }

// localSource is the directory source the job's steps build from: the
// job's crate source, or the vendor dir when its crates come from a
// registry (see builder/source.go).
func (w workspace) localSource(crateSource string) string {
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

// removeJobDirs removes every job dir of builder id under workDir.
func removeJobDirs(workDir, id string) (int, error) {
	ents, err := os.ReadDir(workDir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", workDir, err)
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() || !isJobDirOf(e.Name(), id) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(workDir, e.Name())); err != nil {
			return n, fmt.Errorf("remove job dir: %w", err)
		}
		n++
	}
	return n, nil
}

// newWorkspace creates the job dir and the wrapper package for job.
func newWorkspace(dir string, job *streams.Job) (workspace, error) {
	w := workspace{dir: dir}
	dirs := []string{w.wrapper() + "/src", w.home(), w.cargoHome(), w.target()}
	source := w.localSource(job.CrateSource)
	if source == w.vendor() {
		dirs = append(dirs, source)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return w, fmt.Errorf("create job dir: %w", err)
		}
	}
	// An empty [workspace] makes the wrapper its own workspace root, so
	// cargo never wanders up the host's directories looking for one.
	manifest := fmt.Sprintf("[package]\nname = %q\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n"+
		"[dependencies]\n%s = %q\n\n[workspace]\n", wrapperPackage, job.Crate, "="+job.Version)
	files := map[string]string{
		"Cargo.toml":         manifest,
		"src/lib.rs":         "",
		".cargo/config.toml": cargoConfig(source),
	}
	for name, text := range files {
		if err := writeFile(filepath.Join(w.wrapper(), name), text); err != nil {
			return w, fmt.Errorf("write wrapper package: %w", err)
		}
	}
	return w, nil
}

// cargoConfig makes cargo resolve crates.io from the local directory source
// only: builds run without network, as in crater.
func cargoConfig(source string) string {
	return fmt.Sprintf("[source.crates-io]\nreplace-with = \"local\"\n\n[source.local]\ndirectory = %q\n\n[net]\noffline = true\n", source)
}

func writeFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// errCrateNotFound: the directory source has no dir for the crate version.
var errCrateNotFound = errors.New("crate source not found")

// findCrateDir returns the crate's dir in a directory source: normally
// <name>-<version>, otherwise whichever dir's Cargo.toml names that package
// and version (sources are not obliged to follow the naming).
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
	if _, err := toml.DecodeFile(filepath.Join(dir, "Cargo.toml"), &m); err != nil {
		return false
	}
	return m.Package.Name == name && m.Package.Version == version
}

// copyCrate copies the crate's source into the workspace so it can be
// tested as the root package, with the same offline cargo config.
func (w workspace) copyCrate(src, source string) error {
	dst := w.crate()
	// A registry may hold its crates as symlinks (testenv.CrateRegistry,
	// scripts/demo.sh): copy what the link points to, never the link, or
	// the crate's files would be written to in the source itself.
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
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
			return os.MkdirAll(to, 0o755)
		case rel == ".cargo-checksum.json":
			return nil // a directory source's bookkeeping, not part of the crate
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(path, to)
		}
		return nil // devices, sockets: nothing a crate needs
	})
	if err != nil {
		return fmt.Errorf("copy crate source: %w", err)
	}
	if err := writeFile(filepath.Join(dst, ".cargo/config.toml"), cargoConfig(source)); err != nil {
		return fmt.Errorf("write crate cargo config: %w", err)
	}
	return ensureWorkspaceRoot(filepath.Join(dst, "Cargo.toml"))
}

// ensureWorkspaceRoot appends an empty [workspace] to a manifest that has
// none, for the same reason as the wrapper's.
func ensureWorkspaceRoot(manifest string) error {
	var m map[string]any
	if _, err := toml.DecodeFile(manifest, &m); err != nil {
		return nil // cargo will report the broken manifest itself, in the log
	}
	if _, ok := m["workspace"]; ok {
		return nil
	}
	f, err := os.OpenFile(manifest, os.O_APPEND|os.O_WRONLY, 0)
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

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
