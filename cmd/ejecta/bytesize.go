package main

import (
	"fmt"
	"strings"

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
