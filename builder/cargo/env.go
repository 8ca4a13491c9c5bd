package cargo

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// sandboxEnv is the whole environment of a build: nothing of the builder's
// own environment leaks in, so a build depends only on the job and the
// builder's configuration. target is CARGO_TARGET_DIR: the job dir's own,
// or the slot's shared one (Build.SharedTarget).
func sandboxEnv(h Host, ws *workspace.Workspace, target, toolchain, capLints string) []string {
	env := []string{
		// The cargo proxy's dir first so rustc and friends resolve through
		// the same rustup as cargo.
		"PATH=" + filepath.Dir(h.CargoPath) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + ws.Home(),
		"RUSTUP_HOME=" + h.RustupHome, // read-only in the sandbox
		"CARGO_HOME=" + ws.CargoHome(),
		"CARGO_TARGET_DIR=" + target,
		// Colours without a TTY: stdout and stderr stay apart in the log.
		"CARGO_TERM_COLOR=always",
		// Never try to install a missing toolchain into a read-only home;
		// fail with a clear message instead.
		"RUSTUP_AUTO_INSTALL=0",
		"RUSTUP_TOOLCHAIN=" + toolchain,
	}
	if capLints != "" {
		// rustdoc reads its own flags (crater passes both).
		env = append(env, "RUSTFLAGS=--cap-lints="+capLints, "RUSTDOCFLAGS=--cap-lints="+capLints)
	}
	return env
}

// ReadOnlyDirs are the host directories a build of toolchain tc from
// crateSource reads, bound read-only into its sandbox at their own paths
// wherever they are (in a hidden /root, under /tmp): rustup's home and
// the cargo proxy's directory (and those of cargo and rustc themselves
// where they are links), the toolchain's own directory where it is
// not in rustup's home (a linked or path toolchain), and a local crate
// source (a registry's crates are in the job dir). A directory source
// must hold its crates itself: a crate that is a link to a directory a
// build cannot read cannot be built.
func ReadOnlyDirs(h Host, tc, crateSource string) []string {
	dirs := []string{h.RustupHome, filepath.Dir(h.CargoPath)}
	// The programs the builder runs, cargo and the rustc beside it, where
	// they really are when they are links.
	for _, prog := range []string{h.CargoPath, filepath.Join(filepath.Dir(h.CargoPath), "rustc")} {
		if real, err := filepath.EvalSymlinks(prog); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	if d := ToolchainDir(h.RustupHome, tc); d != "" {
		dirs = append(dirs, d)
	}
	if !streams.IsRegistrySource(crateSource) {
		dirs = append(dirs, crateSource)
	}
	var out []string
	for _, d := range dirs {
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue // not there: the build will say what is missing
		}
		out = append(out, filepath.Clean(d))
		if real != d && !within(real, h.RustupHome) {
			out = append(out, real)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	return path == dir || len(path) > len(dir) && path[:len(dir)] == dir && path[len(dir)] == '/'
}

// checkSource makes sure builds may and can read a directory crate
// source before any is run on it. It is bound read-only into the sandbox
// after the covers of the hidden paths, so one that is, holds or lies in
// a hidden path (or is "/") would show builds what is hidden from them.
// One builds cannot read (missing, or closed to others: builds run as
// users of their own) would make every crate look broken.
func checkSource(source string, hidden []string) error {
	if source == "/" {
		return fmt.Errorf("%s: the host's root is no crate source", source)
	}
	for _, h := range hidden {
		if within(source, h) || within(h, source) {
			return fmt.Errorf("%s would show builds %s, which is hidden from them", source, h)
		}
	}
	fi, err := os.Stat(source)
	switch {
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", source)
	case fi.Mode().Perm()&0o005 != 0o005:
		return fmt.Errorf("%s has mode %v: builds run as unprivileged users and cannot list it", source, fi.Mode().Perm())
	}
	return nil
}
