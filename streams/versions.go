package streams

import (
	"strings"

	"github.com/Masterminds/semver/v3"
)

// CompareVersions orders crate versions as semver does, the way people
// read them: 1.9.0 before 1.10.0, 1.0.0-rc.2 before 1.0.0-rc.10 before
// 1.0.0; build metadata is only a last tie-break. Anything that is not a
// semver version sorts after every version that is, in string order, so
// the order stays total. It is the one order of versions: the producer's
// "newest version" and the report's crate order both use it.
func CompareVersions(a, b string) int {
	va, ea := semver.StrictNewVersion(a)
	vb, eb := semver.StrictNewVersion(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return 1
	case eb != nil:
		return -1
	}
	if c := va.Compare(vb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// IsPrerelease reports whether v is a semver pre-release (1.0.0-rc.1),
// which cargo picks for a bare requirement only when nothing else matches.
func IsPrerelease(v string) bool {
	sv, err := semver.StrictNewVersion(v)
	return err == nil && sv.Prerelease() != ""
}
