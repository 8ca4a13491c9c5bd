package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// latencyGoal is the end-to-end latency a build's outcome must reach its
// reader within, at the 99th percentile: its log stored, its result in the
// report.
const latencyGoal = time.Second

// latencyRow measures, over a finished real experiment, the time from each
// build's last byte to its log stored and to its result in the report.
// The last byte's time is the last entry of the log's times index (the
// chunk that holds the builder's closing line), the log stored its
// metadata's stored_at; both are this machine's clock. The report side is
// the reporter's ejecta_reporter_report_lag_seconds (from the newest
// result of a report to that report stored), its quantiles interpolated
// within the histogram's buckets as Prometheus' histogram_quantile does.
func latencyRow(ctx context.Context, st store.Store, f *results.File, reg *prometheus.Registry, full bool) Row {
	row := Row{
		Figure:   fmt.Sprintf("build's last byte → its log stored and its result in the report, p50 / p99, over the %s experiment's builds", f.Mode),
		Baseline: "—", Ratio: "—", Goal: "≤ 1s p99",
	}
	stored, err := logStoreLatencies(ctx, st, f)
	if err != nil {
		row.Verdict, row.Note = Skipped, err.Error()
		return row
	}
	lag, n := histogramQuantiles(reg, "ejecta_reporter_report_lag_seconds", 0.5, 0.99)
	storedP99 := measure.Quantile(stored, 0.99)
	row.Ejecta = fmt.Sprintf("log stored %s / %s; report %s / %s", round(measure.Median(stored)), round(storedP99), round(lag[0]), round(lag[1]))
	row.Verdict = judge(full, storedP99 <= latencyGoal && lag[1] <= latencyGoal && n > 0)
	row.Note = fmt.Sprintf("%d logs; %d report writes that took in new results (lag from the newest result in each); the report's quantiles are interpolated within the histogram's buckets", len(stored), n)
	return row
}

// logStoreLatencies is, for every build of f, the time from its log's last
// byte to the log stored.
func logStoreLatencies(ctx context.Context, st store.Store, f *results.File) ([]time.Duration, error) {
	prefix := streams.ExperimentPrefix(f.Experiment)
	var out []time.Duration
	for _, c := range f.Crates {
		runs := c.Results
		for _, round := range c.Reruns {
			runs = append(runs, round...)
		}
		for _, r := range runs {
			k := streams.BuildKey{Experiment: f.Experiment, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
			var meta streams.LogMeta
			if err := getJSON(ctx, st, prefix+streams.LogMetaKey(k, r.Attempt), &meta); err != nil {
				return nil, fmt.Errorf("log of %s attempt %d: %w", k, r.Attempt, err)
			}
			rc, err := st.Get(ctx, prefix+streams.LogTimesKey(k, r.Attempt))
			if err != nil {
				return nil, fmt.Errorf("times of %s attempt %d: %w", k, r.Attempt, err)
			}
			times, err := streams.ReadLogTimes(rc)
			rc.Close()
			if err != nil || len(times) == 0 {
				return nil, fmt.Errorf("times of %s attempt %d: %d entries, %v", k, r.Attempt, len(times), err)
			}
			out = append(out, meta.StoredAt.Sub(times[len(times)-1].At))
		}
	}
	return out, nil
}

func getJSON(ctx context.Context, st store.Store, key string, v any) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	return json.NewDecoder(rc).Decode(v)
}

// histogramQuantiles returns the quantiles qs of the histogram name in
// reg (all its series together), interpolated linearly within buckets,
// and how many observations it holds.
func histogramQuantiles(reg *prometheus.Registry, name string, qs ...float64) ([]time.Duration, uint64) {
	out := make([]time.Duration, len(qs))
	fams, err := reg.Gather()
	if err != nil {
		return out, 0
	}
	type bucket struct {
		upper float64
		count uint64
	}
	var buckets []bucket
	var total uint64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			total += h.GetSampleCount()
			for i, b := range h.GetBucket() {
				if i == len(buckets) {
					buckets = append(buckets, bucket{upper: b.GetUpperBound()})
				}
				buckets[i].count += b.GetCumulativeCount()
			}
		}
	}
	if total == 0 {
		return out, 0
	}
	buckets = append(buckets, bucket{upper: math.Inf(1), count: total})
	for i, q := range qs {
		rank := q * float64(total)
		lower, below := 0.0, uint64(0)
		for _, b := range buckets {
			if float64(b.count) >= rank {
				upper := b.upper
				if math.IsInf(upper, 1) {
					upper = lower // past the last bound: its bound is all that is known
				}
				in := float64(b.count - below)
				at := lower
				if in > 0 {
					at += (upper - lower) * (rank - float64(below)) / in
				}
				out[i] = time.Duration(at * float64(time.Second))
				break
			}
			lower, below = b.upper, b.count
		}
	}
	return out, total
}
