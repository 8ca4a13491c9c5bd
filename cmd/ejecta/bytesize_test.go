package main

import "testing"

// Sizes mean what docker's --memory means: every unit a power of 1024,
// whatever its spelling or case.
func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"2G", 2 << 30}, {"2g", 2 << 30}, {"2GB", 2 << 30}, {"2gb", 2 << 30}, {"2Gi", 2 << 30}, {"2GiB", 2 << 30},
		{"1.5GiB", 1536 << 20}, {"1536MiB", 1536 << 20}, {"1536M", 1536 << 20}, {"512m", 512 << 20},
		{"64KiB", 64 << 10}, {"64k", 64 << 10}, {"1T", 1 << 40},
		{"1073741824", 1 << 30}, {"100B", 100}, {"2 GiB", 2 << 30},
	} {
		if got, err := parseBytes(tc.in); err != nil || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "lots", "0", "-1G", "2X", "1.5.3G", "2GiBs", "9999999P"} {
		if n, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", bad, n)
		}
	}
}
