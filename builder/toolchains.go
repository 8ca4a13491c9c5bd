package builder

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// installedToolchains lists rustup's toolchains by reading RustupHome
// rather than running `rustup toolchain list`: the heartbeat runs every few
// seconds and the builder's own environment may not even have rustup on PATH.
func installedToolchains(rustupHome string) []string {
	ents, err := os.ReadDir(filepath.Join(rustupHome, "toolchains"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// toolchainVersion returns rustc's version line for toolchain tc (say
// "1.95.0 (59807616e 2026-04-14)") from the channel manifest rustup keeps,
// or "" if it cannot tell. The log records it because "nightly" alone does
// not say which nightly built the crate.
func toolchainVersion(rustupHome, tc string) string {
	dir := toolchainDir(rustupHome, tc)
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

// toolchainDir finds tc's directory: "stable" is installed as
// "stable-<host triple>". A triple starts with a letter, which is how
// "nightly" avoids matching "nightly-2026-01-01-<triple>".
func toolchainDir(rustupHome, tc string) string {
	for _, name := range installedToolchains(rustupHome) {
		rest, ok := strings.CutPrefix(name, tc)
		if ok && (rest == "" || len(rest) > 1 && rest[0] == '-' && isLetter(rest[1])) {
			return filepath.Join(rustupHome, "toolchains", name)
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
