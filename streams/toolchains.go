package streams

import "strings"

// ToolchainProvides reports whether installed, a toolchain as rustup names
// its directory and as Heartbeat.Toolchains lists it (say
// "nightly-x86_64-unknown-linux-gnu"), is what a job asking for tc gets:
// rustup completes "nightly" and "1.80.0" with the host triple. A triple
// starts with a letter, which keeps "nightly" from matching
// "nightly-2026-01-01-x86_64-unknown-linux-gnu".
//
// A toolchain given as a path is provided only by that very path.
func ToolchainProvides(installed, tc string) bool {
	if IsToolchainPath(tc) || IsToolchainPath(installed) {
		return installed == tc
	}
	rest, ok := strings.CutPrefix(installed, tc)
	if !ok {
		return false
	}
	return rest == "" || len(rest) > 1 && rest[0] == '-' && isASCIILetter(rest[1])
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// ShortToolchain is installed without the host triple rustup adds to its
// name ("nightly-2026-01-01-x86_64-unknown-linux-gnu" is
// "nightly-2026-01-01"): what an experiment names it by, as
// ToolchainProvides matches it. A path stays as it is.
func ShortToolchain(installed string) string {
	if IsToolchainPath(installed) {
		return installed
	}
	for i := 0; i+1 < len(installed); i++ {
		if installed[i] == '-' && isASCIILetter(installed[i+1]) {
			return installed[:i]
		}
	}
	return installed
}
