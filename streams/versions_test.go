package streams

import (
	"slices"
	"testing"
)

func TestCompareVersionsSorts(t *testing.T) {
	got := []string{"1.10.0", "1.0.0", "1.0.0-rc.1", "0.9.9", "1.0.0-alpha", "1.0.0-rc.10", "1.9.0", "1.0.0-rc.2",
		"1.0.0-alpha.1", "1.0.0+build", "junk", "1.0", "0.10.0-beta.11", "0.10.0-beta.2"}
	slices.SortFunc(got, CompareVersions)
	want := []string{"0.9.9", "0.10.0-beta.2", "0.10.0-beta.11", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-rc.1", "1.0.0-rc.2",
		"1.0.0-rc.10", "1.0.0", "1.0.0+build", "1.9.0", "1.10.0", "1.0", "junk"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n got %q\nwant %q", got, want)
	}
}

func TestIsPrerelease(t *testing.T) {
	for v, want := range map[string]bool{"1.0.0": false, "1.0.0-rc.1": true, "1.0.0+build-7": false, "1.0.0-beta+exp": true, "junk": false} {
		if got := IsPrerelease(v); got != want {
			t.Errorf("IsPrerelease(%q) = %v, want %v", v, got, want)
		}
	}
}
