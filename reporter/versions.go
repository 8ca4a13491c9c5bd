package reporter

import (
	"cmp"
	"strconv"
	"strings"
)

// compareVersions orders semver versions the way people read them
// (1.9.0 before 1.10.0, 1.0.0-rc.1 before 1.0.0). Build metadata is ignored
// except as a last tie-break, and pre-releases are compared identifier by
// identifier, numeric ones numerically. Anything unparsable falls back to
// plain string order, so the sort stays total.
func compareVersions(a, b string) int {
	ca, pa, oka := splitVersion(a)
	cb, pb, okb := splitVersion(b)
	if !oka || !okb {
		return strings.Compare(a, b)
	}
	for i := range ca {
		if c := cmp.Compare(ca[i], cb[i]); c != 0 {
			return c
		}
	}
	switch {
	case pa == "" && pb != "":
		return 1
	case pa != "" && pb == "":
		return -1
	}
	if c := comparePrerelease(pa, pb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// splitVersion returns major, minor, patch and the pre-release of v.
func splitVersion(v string) ([3]uint64, string, bool) {
	var core [3]uint64
	v, _, _ = strings.Cut(v, "+")
	v, pre, _ := strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return core, "", false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return core, "", false
		}
		core[i] = n
	}
	return core, pre, true
}

func comparePrerelease(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		na, errA := strconv.ParseUint(as[i], 10, 64)
		nb, errB := strconv.ParseUint(bs[i], 10, 64)
		var c int
		switch {
		case errA == nil && errB == nil:
			c = cmp.Compare(na, nb)
		case errA == nil: // numeric identifiers sort before alphanumeric ones
			c = -1
		case errB == nil:
			c = 1
		default:
			c = strings.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}
