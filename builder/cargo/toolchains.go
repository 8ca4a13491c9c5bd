package cargo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// installedToolchains lists rustup's toolchains by reading RustupHome
// rather than running `rustup toolchain list`: the heartbeat runs every few
// seconds and the builder's own environment may not even have rustup on PATH.
// A toolchain made with `rustup toolchain link` is a symlink to a directory.
func installedToolchains(rustupHome string) []string {
	dir := filepath.Join(rustupHome, "toolchains")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// Toolchains lists what a builder offers: rustup's toolchains in
// rustupHome and, of the toolchain directories it was given (paths),
// those that hold a rustc.
func Toolchains(rustupHome string, paths []string) []string {
	out := installedToolchains(rustupHome)
	for _, p := range paths {
		if ToolchainDir(rustupHome, p) != "" {
			out = append(out, p)
		}
	}
	return out
}

// Offers reports whether a builder with rustupHome and the toolchain
// directories paths builds with toolchain tc: one rustup has, or one of
// those directories. Any other directory is not offered, whatever it
// holds: an experiment cannot point builders at arbitrary host paths.
func Offers(rustupHome string, paths []string, tc string) bool {
	if streams.IsToolchainPath(tc) && !slices.Contains(paths, tc) {
		return false
	}
	return ToolchainDir(rustupHome, tc) != ""
}

// toolchainVersion returns rustc's version line for toolchain tc (say
// "1.95.0 (59807616e 2026-04-14)") from the channel manifest rustup keeps,
// or "" if it cannot tell. It stands in when `rustc -vV` cannot be run.
func toolchainVersion(rustupHome, tc string) string {
	dir := ToolchainDir(rustupHome, tc)
	if dir == "" {
		return ""
	}
	f, err := os.Open(filepath.Join(dir, "lib/rustlib/multirust-channel-manifest.toml"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inRustc := false
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "[") {
			inRustc = l == "[pkg.rustc]"
			continue
		}
		if v, ok := strings.CutPrefix(l, "version = "); ok && inRustc {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// ToolchainDir finds tc's directory ("stable" is installed as
// "stable-<host triple>"; a toolchain given as a path is that directory),
// or "" if there is no such toolchain.
func ToolchainDir(rustupHome, tc string) string {
	if streams.IsToolchainPath(tc) {
		if _, err := os.Stat(filepath.Join(tc, "bin", "rustc")); err != nil {
			return ""
		}
		return tc
	}
	for _, name := range installedToolchains(rustupHome) {
		if streams.ToolchainProvides(name, tc) {
			return filepath.Join(rustupHome, "toolchains", name)
		}
	}
	return ""
}

// rustcVersionTimeout bounds one `rustc -vV`; it answers in milliseconds.
const rustcVersionTimeout = 10 * time.Second

// Versions caches `rustc +<toolchain> -vV` per toolchain: every log
// starts with it, and one run per toolchain and builder is enough. An entry
// is keyed by the toolchain's channel manifest's modification time, which
// `rustup update` changes, so an updated nightly is asked again. The zero
// value is ready to use.
type Versions struct {
	mu sync.Mutex
	m  map[string]rustcVersion
}

type rustcVersion struct {
	stamp time.Time
	text  string
	line  string // rustc's version line, from text or else from the channel manifest
	err   error
}

// Get returns the output of `rustc +tc -vV`, run by probe (in the
// sandbox: a toolchain's programs run nowhere else, rustup's proxy
// included), without its trailing newline, and the version line ("1.95.0
// (59807616e 2026-04-14)"), which comes from the channel manifest when
// rustc cannot be run (toolchainVersion; "" if neither tells). A failure
// is cached too: a broken toolchain costs one try, and one read of its
// 1 MB manifest, per manifest change, not per job.
func (r *Versions) Get(ctx context.Context, h Host, tc string, probe func(context.Context, ...string) (string, error)) (text, line string, err error) {
	// Without the toolchain or its rustc, rustup only fails, and slowly.
	dir := ToolchainDir(h.RustupHome, tc)
	if dir == "" {
		return "", "", fmt.Errorf("rustc +%s -vV: toolchain not installed in %s", tc, h.RustupHome)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "rustc")); err != nil {
		return "", "", fmt.Errorf("rustc +%s -vV: %w", tc, err)
	}
	var stamp time.Time
	if fi, err := os.Stat(filepath.Join(dir, "lib/rustlib/multirust-channel-manifest.toml")); err == nil {
		stamp = fi.ModTime()
	}
	r.mu.Lock()
	v, ok := r.m[tc]
	r.mu.Unlock()
	if ok && v.stamp.Equal(stamp) {
		return v.text, v.line, v.err
	}
	ctx, cancel := context.WithTimeout(ctx, rustcVersionTimeout)
	defer cancel()
	out, err := probe(ctx, filepath.Join(filepath.Dir(h.CargoPath), "rustc"), "+"+tc, "-vV")
	text = strings.TrimRight(out, "\n")
	if err == nil && !strings.HasPrefix(text, "rustc ") {
		err = errors.New("not rustc's version")
	}
	if err != nil {
		text, err = "", fmt.Errorf("rustc +%s -vV: %w (output %s)", tc, err, streams.Bounded(text))
		if ctx.Err() != nil || errors.Is(err, errNotRun) {
			// The attempt ended, rustc hung or the sandbox failed: try
			// again next time.
			return "", toolchainVersion(h.RustupHome, tc), err
		}
	}
	line, _, _ = strings.Cut(strings.TrimPrefix(text, "rustc "), "\n")
	if line == "" {
		line = toolchainVersion(h.RustupHome, tc)
	}
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]rustcVersion{}
	}
	r.m[tc] = rustcVersion{stamp: stamp, text: text, line: line, err: err}
	r.mu.Unlock()
	return text, line, err
}

// componentMissing ends an attempt whose toolchain lacks a component the
// mode needs: an infrastructure error (this builder's toolchain is
// incomplete), not the crate's failure.
func (b *Build) componentMissing(component string) Verdict {
	tc := b.Job.Toolchain
	fmt.Fprintf(b.Log.System, "toolchain %s does not have the %s component, which %s needs (rustup component add --toolchain %s %s)\n",
		tc, component, b.Job.Mode, tc, component)
	return Verdict{Status: streams.StatusError, Reason: streams.ComponentMissing(component), ExitCode: b.exitCode}
}

// MissingComponent returns the first of components (rustup component
// names) that toolchain tc lacks, judged by the files each one installs,
// or "" if it has them all or rustup does not know tc (the first step will
// then say the toolchain is missing).
func MissingComponent(rustupHome, tc string, components ...string) string {
	dir := ToolchainDir(rustupHome, tc)
	if dir == "" {
		return ""
	}
	for _, c := range components {
		if _, err := os.Stat(filepath.Join(dir, componentFile(c))); err != nil {
			return c
		}
	}
	return ""
}

// componentFile is a file component installs into a toolchain.
func componentFile(component string) string {
	switch component {
	case "clippy":
		return "bin/cargo-clippy"
	case "miri":
		return "bin/cargo-miri"
	case "rust-src":
		return "lib/rustlib/src/rust/library"
	}
	return "bin/" + component
}
