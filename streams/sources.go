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
			return fmt.Errorf("crate source %s: want an absolute directory or sparse+http(s)://host/path/", Bounded(source))
		}
		return nil
	}
	u, err := url.Parse(strings.TrimPrefix(source, registryScheme))
	switch {
	case err != nil:
		return fmt.Errorf("crate source %s: %w", Bounded(source), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("crate source %s: want sparse+http:// or sparse+https://", Bounded(source))
	case u.Host == "":
		return fmt.Errorf("crate source %s: the URL has no host", Bounded(source))
	case !strings.HasSuffix(u.Path, "/"):
		return fmt.Errorf("crate source %s: a sparse index URL ends with '/', as cargo wants it", Bounded(source))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("crate source %s: want no user, query or fragment in the URL", Bounded(source))
	case strings.ContainsAny(source, "\"\\\n\r\t "):
		return fmt.Errorf("crate source %s: quotes, backslashes and whitespace are not allowed", Bounded(source))
	}
	return nil
}

// CrateSourceWarning says why a valid crate source is unsafe, or "" when it
// is not. A sparse registry read over plain HTTP is: the builders check each
// .crate against the sha256 the index lists, so whoever can change the index
// on its way (anyone on the network path) chooses the code that is built.
func CrateSourceWarning(source string) string {
	if !IsRegistrySource(source) {
		return ""
	}
	u, err := url.Parse(strings.TrimPrefix(source, registryScheme))
	if err != nil || u.Scheme != "http" {
		return ""
	}
	return fmt.Sprintf("crate source %s is read over plain HTTP: anyone on the network path can change its index, "+
		"and the builders check each .crate only against the index's sha256, so the crates built are only as trustworthy "+
		"as the index; use sparse+https:// unless the registry is on a network you trust", Bounded(source))
}
