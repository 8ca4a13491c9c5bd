package reporter

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// metrics are the reporter's Prometheus collectors. They exist whether or
// not Config.Metrics names a registry, so the code that counts never asks.
type metrics struct {
	ingested prometheus.Counter
	refused  prometheus.Counter
	disputed prometheus.Counter
	writes   *prometheus.CounterVec
	lag      prometheus.Histogram
	lastLag  prometheus.Gauge
	crates   *prometheus.GaugeVec
	done     *prometheus.GaugeVec
	total    *prometheus.GaugeVec

	// lagged is, per experiment, the newest result whose lag was observed:
	// a later write of the same results (pages, a retry) is not a new lag.
	// written (on the writing goroutine) and forget (on the reporter's)
	// share it.
	mu     sync.Mutex
	lagged map[string]time.Time
}

// lagBuckets centre on the goal: a report current within about a second
// (Config.Debounce) of each result. The goal's p99 sits near the debounce,
// so the buckets around it are narrow enough to tell a p99 under it from
// one at it.
var lagBuckets = []float64{0.1, 0.25, 0.5, 0.75, 0.9, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_reporter_results_ingested_total", Help: "Results read from the results stream and taken into a report (a replay after a restart counts them again).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_reporter_results_refused_total", Help: "Messages on the results stream that were not valid results, moved to the dead stream.",
		}),
		disputed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_reporter_disputed_builds_total", Help: "Builds whose results from two builder users disagreed, reported as errors (reason disputed): a builder or its credential is suspect.",
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_reporter_report_writes_total", Help: "Report writes (every changed file of one experiment, then its progress entry), by outcome: ok or error.",
		}, []string{"outcome"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ejecta_reporter_report_lag_seconds", Help: "Time from the newest result of a report to that report stored.",
			Buckets: lagBuckets,
		}),
		lastLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ejecta_reporter_last_report_lag_seconds", Help: "Report lag of the latest report write that took in new results.",
		}),
		crates: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ejecta_reporter_crates", Help: "Crate versions of an experiment by comparison class, as in its latest stored report (pending crates are not counted).",
		}, []string{"experiment", "class"}),
		done: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ejecta_reporter_builds_done", Help: "Builds of an experiment's first run with a result, as in its latest stored report.",
		}, []string{"experiment"}),
		total: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ejecta_reporter_builds_total", Help: "Builds an experiment has in all (crates times toolchains).",
		}, []string{"experiment"}),
		lagged: map[string]time.Time{},
	}
	// Both outcomes exist from the start, so a dashboard's error rate is
	// 0 rather than missing.
	m.writes.WithLabelValues("ok")
	m.writes.WithLabelValues("error")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.ingested, m.refused, m.disputed, m.writes, m.lag, m.lastLag, m.crates, m.done, m.total} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register reporter metrics: %w", err)
		}
	}
	return m, nil
}

// written records the outcome of writing batch b. The goroutine writing b
// calls it as soon as the write ends, so the metrics are not behind the
// stored report. The two writers' calls may overlap; only a batch with a
// progress entry, which one writer stores, sets the counts.
func (m *metrics) written(b *batch, err error) {
	if err != nil {
		m.writes.WithLabelValues("error").Inc()
		return
	}
	m.writes.WithLabelValues("ok").Inc()
	m.mu.Lock()
	if !b.resultAt.IsZero() && b.resultAt.After(m.lagged[b.exp]) {
		m.lagged[b.exp] = b.resultAt
		lag := b.storedAt.Sub(b.resultAt).Seconds()
		m.lag.Observe(lag)
		m.lastLag.Set(lag)
	}
	m.mu.Unlock()
	// The counts are the stored progress entry's, not e's: results may
	// have come in while the batch was being written.
	var p streams.Progress
	if err := json.Unmarshal(b.progress, &p); err != nil {
		return // progressJSON encoded it; nothing to count if it did not
	}
	for _, c := range results.Classes {
		if c != results.ClassPending {
			m.crates.WithLabelValues(b.exp, string(c)).Set(float64(p.Classes[string(c)]))
		}
	}
	m.done.WithLabelValues(b.exp).Set(float64(p.Done))
	m.total.WithLabelValues(b.exp).Set(float64(p.Total))
}

// forget removes deleted experiment exp's series: a dashboard must not
// show, nor an alert count, crates of an experiment that is gone, and a
// farm running experiment after experiment must not grow its series for
// ever.
func (m *metrics) forget(exp string) {
	m.mu.Lock()
	delete(m.lagged, exp)
	m.mu.Unlock()
	m.crates.DeletePartialMatch(prometheus.Labels{"experiment": exp})
	m.done.DeleteLabelValues(exp)
	m.total.DeleteLabelValues(exp)
}
