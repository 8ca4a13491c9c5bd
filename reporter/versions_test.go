package reporter

import (
	"slices"
	"testing"
)

func TestCompareVersionsSorts(t *testing.T) {
	got := []string{"1.10.0", "1.0.0", "1.0.0-rc.1", "0.9.9", "1.0.0-alpha", "1.0.0-rc.10", "1.9.0", "1.0.0-rc.2", "1.0.0-alpha.1", "1.0.0+build", "junk"}
	slices.SortFunc(got, compareVersions)
	want := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0", "1.0.0+build", "1.9.0", "1.10.0", "junk"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted:\n got %q\nwant %q", got, want)
	}
}
