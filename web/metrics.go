package web

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ejecta-build/ejecta/metrics"
)

// webMetrics are the web UI's Prometheus collectors.
type webMetrics struct {
	requests *prometheus.CounterVec
	streams  prometheus.Gauge
	refused  *prometheus.CounterVec
	// gatherer serves /metrics; nil: no /metrics route.
	gatherer prometheus.Gatherer
}

// newMetrics makes the collectors and registers them in reg, which the
// server then also serves on /metrics (nil: neither).
func newMetrics(reg *prometheus.Registry) (*webMetrics, error) {
	m := &webMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_web_requests_total", Help: "HTTP requests the web UI answered, by status code and method.",
		}, []string{"code", "method"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ejecta_web_log_streams", Help: "Live log event streams (Server-Sent Events) open now.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_web_log_streams_refused_total",
			Help: "Log event streams refused with 429 because the server's cap (limit=server) or the client's (limit=client) was reached.",
		}, []string{"limit"}),
	}
	for _, l := range []string{capServer, capClient} {
		m.refused.WithLabelValues(l)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.streams, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register web metrics: %w", err)
		}
	}
	m.gatherer = reg
	return m, nil
}

// instrument counts every request h answers.
func (m *webMetrics) instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.requests, h)
}

// route adds GET /metrics to mux when there is a registry to serve.
func (m *webMetrics) route(mux *http.ServeMux) {
	if m.gatherer != nil {
		mux.Handle("GET /metrics", metrics.Handler(m.gatherer))
	}
}
