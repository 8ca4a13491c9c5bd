package measure

import (
	"slices"
	"time"
)

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of ds by the nearest rank,
// or 0 for none. ds is not changed.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q * float64(len(s)))
	return s[min(i, len(s)-1)]
}

// Median is Quantile(ds, 0.5).
func Median(ds []time.Duration) time.Duration { return Quantile(ds, 0.5) }
