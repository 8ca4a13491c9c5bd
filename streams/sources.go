package streams

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// registryScheme starts a crate source that is a crates.io-style sparse
// registry, in cargo's own notation: "sparse+https://index.crates.io/".
const registryScheme = "sparse+"

// IsRegistrySource says whether source names a sparse registry rather
// than a local directory.
func IsRegistrySource(source string) bool { return strings.HasPrefix(source, registryScheme) }

// ValidateCrateSource accepts the two kinds of crate source: an absolute
// directory holding one directory per crate version (Debian's
// /usr/share/cargo/registry, a `cargo vendor` dir), or a sparse registry
// index URL "sparse+http(s)://host/path/" whose config.json says where
// the .crate files are.
func ValidateCrateSource(source string) error {
	if !IsRegistrySource(source) {
		if !filepath.IsAbs(source) || strings.ContainsAny(source, "\x00\n\r") {
			return fmt.Errorf("crate source %q: want an absolute directory or sparse+http(s)://host/path/", Bounded(source))
		}
		return nil
	}
	u, err := url.Parse(strings.TrimPrefix(source, registryScheme))
	switch {
	case err != nil:
		return fmt.Errorf("crate source %q: %w", Bounded(source), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("crate source %q: want sparse+http:// or sparse+https://", Bounded(source))
	case u.Host == "":
		return fmt.Errorf("crate source %q: the URL has no host", Bounded(source))
	case !strings.HasSuffix(u.Path, "/"):
		return fmt.Errorf("crate source %q: a sparse index URL ends with '/', as cargo wants it", Bounded(source))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("crate source %q: want no user, query or fragment in the URL", Bounded(source))
	case strings.ContainsAny(source, "\"\\\n\r\t "):
		return fmt.Errorf("crate source %q: quotes, backslashes and whitespace are not allowed", Bounded(source))
	}
	return nil
}
