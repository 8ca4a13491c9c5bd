package uploader

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the uploader's Prometheus collectors. They exist whether or
// not Config.Metrics names a registry, so the code that counts never asks.
type metrics struct {
	stored   prometheus.Counter
	bytes    prometheus.Counter
	failed   prometheus.Counter
	forged   prometheus.Counter
	latency  prometheus.Histogram
	inFlight prometheus.Gauge
	// The backlog as of the last sweep (Config.SweepInterval).
	backlogRequests prometheus.Gauge
	backlogLogs     prometheus.Gauge
	backlogBytes    prometheus.Gauge
}

// latencyBuckets span a small log to a local directory (milliseconds) to a
// large one over a slow link to S3.
var latencyBuckets = prometheus.ExponentialBuckets(0.005, 2.5, 12) // 5ms to ~20 min

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		stored: counter("ejecta_uploader_logs_stored_total", "Logs this replica stored (a redelivery of a log already stored does not count)."),
		bytes:  counter("ejecta_uploader_bytes_stored_total", "Log bytes this replica stored, uncompressed."),
		failed: counter("ejecta_uploader_upload_failures_total", "Uploads that failed and were handed back for a retry."),
		forged: counter("ejecta_uploader_unsigned_log_messages_total", "Messages on a ticketed build's log subject not signed with its job's ticket, skipped: published by someone other than the build's builder."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ejecta_uploader_upload_duration_seconds", Help: "Time from taking an upload request to the log stored and purged from the stream.",
			Buckets: latencyBuckets,
		}),
		inFlight:        gauge("ejecta_uploader_uploads_in_flight", "Logs this replica is uploading now."),
		backlogRequests: gauge("ejecta_uploader_backlog_requests", "Upload requests not yet done (queued or being worked on), at the last sweep."),
		backlogLogs:     gauge("ejecta_uploader_backlog_logs", "Logs with chunks on the logs stream (building or waiting for upload), at the last sweep."),
		backlogBytes:    gauge("ejecta_uploader_backlog_log_bytes", "Bytes of log chunks on the logs stream, at the last sweep."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.stored, m.bytes, m.failed, m.forged, m.latency, m.inFlight,
		m.backlogRequests, m.backlogLogs, m.backlogBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register uploader metrics: %w", err)
		}
	}
	return m, nil
}

// backlog records what a sweep found waiting: logs on the stream and
// upload requests queued.
func (m *metrics) backlog(logs int, logBytes, requests uint64) {
	m.backlogLogs.Set(float64(logs))
	m.backlogBytes.Set(float64(logBytes))
	m.backlogRequests.Set(float64(requests))
}
