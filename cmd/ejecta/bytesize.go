package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// maxBytes bounds a size flag well below int64's end, so that sums of
// sizes (a memory limit and its /tmp) cannot overflow.
const maxBytes = 1 << 62

// parseBytes reads a size as docker's --memory does: a number, possibly
// with a fraction, and a unit whose multiples are powers of 1024 however
// it is written, so 2G, 2g, 2GB, 2Gi and 2GiB all mean 2×2³⁰ bytes, and
// 1.5GiB 1536MiB. No unit, or B, means bytes.
func parseBytes(s string) (int64, error) {
	t := s
	if strings.HasSuffix(t, "i") || strings.HasSuffix(t, "I") {
		t += "B" // Kubernetes' spelling, 2Gi
	}
	n, err := units.RAMInBytes(t)
	if err != nil || n <= 0 || n > maxBytes {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (K, M, G, T: KiB, MiB, GiB, TiB; 2G = 2GB = 2GiB)", s)
	}
	return n, nil
}

// sizeString spells n bytes in the largest binary unit that holds it
// whole: 1536MiB, 2GiB. parseBytes reads it back.
func sizeString(n int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprint(n)
}

// parseRetention reads a retention: a Go duration (12h, 90m), a number of
// days (30d), or 0 for none.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days such as 30d, or a duration such as 12h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a number of days such as 30d, or a duration such as 12h", s)
	}
	return d, nil
}
