package producer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the producer's Prometheus collectors; give them to New with
// WithMetrics. `ejecta experiment create` is a one-shot command, so they
// matter to a program that embeds the producer and serves /metrics.
type Metrics struct {
	published  prometheus.Counter
	duplicates prometheus.Counter
}

// NewMetrics makes the producer's collectors and registers them in reg
// (nil: nowhere).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_producer_jobs_published_total", Help: "Jobs put on the jobs stream by experiment create.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_producer_jobs_duplicate_total", Help: "Job publishes the jobs stream recognised as already queued (a repeated experiment create).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.duplicates} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register producer metrics: %w", err)
		}
	}
	return m, nil
}

// Option configures a Producer.
type Option func(*Producer)

// WithMetrics counts the producer's publishes in m.
func WithMetrics(m *Metrics) Option {
	return func(p *Producer) { p.met = m }
}

// jobPublished counts one publish; the stream said whether it was new.
func (m *Metrics) jobPublished(duplicate bool) {
	switch {
	case m == nil:
	case duplicate:
		m.duplicates.Inc()
	default:
		m.published.Inc()
	}
}
