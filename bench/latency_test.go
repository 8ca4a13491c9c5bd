package bench

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		observe []float64
		q       float64
		want    time.Duration
	}{
		// 100 observations in (0.1, 0.5]: the median halfway into it.
		{"within a bucket", repeat(0.3, 100), 0.5, 300 * time.Millisecond},
		// 90 in (0, 0.1], 10 in (1, 2.5]: p99 nine tenths into the latter.
		{"the tail's bucket", append(repeat(0.05, 90), repeat(2, 10)...), 0.99, 2350 * time.Millisecond},
		// Past the last bound only the bound is known.
		{"past the last bound", repeat(60, 10), 0.99, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lag_seconds", Buckets: []float64{0.1, 0.5, 1, 2.5, 10}})
			reg.MustRegister(h)
			for _, v := range tc.observe {
				h.Observe(v)
			}
			got, n := histogramQuantiles(reg, "lag_seconds", tc.q)
			if n != uint64(len(tc.observe)) || got[0] != tc.want {
				t.Errorf("quantile %v of %v: %v of %d observations, want %v", tc.q, tc.observe[:1], got[0], n, tc.want)
			}
		})
	}
	if got, n := histogramQuantiles(prometheus.NewRegistry(), "lag_seconds", 0.5); n != 0 || got[0] != 0 {
		t.Errorf("no histogram: %v, %d", got, n)
	}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
