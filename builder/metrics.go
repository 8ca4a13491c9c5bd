package builder

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// metrics are the builder's Prometheus collectors. They exist whether or
// not Config.Metrics names a registry, so the code that counts never asks.
type metrics struct {
	running   prometheus.Gauge
	done      *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	logBytes  prometheus.Counter
	logChunks prometheus.Counter
	// logRepairs counts the logs put back in order on the stream, by
	// cause (buildlog.RepairCauses).
	logRepairs *prometheus.CounterVec
	// logOmitted counts task output left out of logs by the log cap.
	logOmitted prometheus.Counter
	// handedBack counts attempts ended by a sandbox failure or an
	// unavailable log without a result, their job left to be built again.
	handedBack prometheus.Counter
	// logBlocked counts the seconds task output waited on the logs stream.
	logBlocked prometheus.Counter
	// crates counts .crate files a registry job needed, by where they
	// came from: the download cache or the registry.
	crates *prometheus.CounterVec
	// sharedBytes is each slot's shared target by toolchain, as measured
	// before its last build; sharedPurges counts purges by cause and
	// sharedPurgeSeconds the time they took (sharedtarget.go).
	sharedBytes        *prometheus.GaugeVec
	sharedPurges       *prometheus.CounterVec
	sharedPurgeSeconds prometheus.Counter
	// stepSeconds is each step's time by cargo subcommand and phase: the
	// sandbox's (making, starting and ending the container or the exec'd
	// process) or the process's own run.
	stepSeconds *prometheus.HistogramVec
}

// Phases of a step, the label of ejecta_builder_step_seconds.
const (
	phaseSandbox = "sandbox"
	phaseProcess = "process"
)

// stepBuckets span an exec'd process's start (milliseconds) to a long
// test run.
var stepBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// durationBuckets span a check of a tiny crate (seconds) to the default
// 15-minute timeout.
var durationBuckets = []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ejecta_builder_jobs_running", Help: "Builds running now in this builder's slots.",
		}),
		done: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_builder_jobs_done_total",
			Help: "Attempts finished with a published result, by status and reason class (the reason without its arguments: compiler-error, depends-on, oom, ...).",
		}, []string{"status", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ejecta_builder_job_duration_seconds", Help: "Wall-clock time of finished attempts, preparation included, by status.",
			Buckets: durationBuckets,
		}, []string{"status"}),
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_log_bytes_total", Help: "Build log bytes published to the logs stream.",
		}),
		logChunks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_log_chunks_total", Help: "Build log chunks published to the logs stream.",
		}),
		logOmitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_log_bytes_omitted_total", Help: "Task output left out of build logs by the log cap (--max-log-bytes).",
		}),
		handedBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_jobs_handed_back_total",
			Help: "Attempts that failed for the farm's reasons (sandbox failed: containerd restarted, a shim died; log stream unavailable), ended without a result and their job handed back to be built again.",
		}),
		logRepairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_builder_log_repairs_total",
			Help: "Logs put back in order on the logs stream, by cause: failed (a chunk's publish failed; later chunks may have been stored) or out-of-order (chunks acknowledged but stored out of order, as across a change of the stream's leader). Each deletes what followed the last chunk in order and publishes the rest again.",
		}, []string{"cause"}),
		logBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_log_blocked_seconds_total",
			Help: "Time build output waited on the logs stream (full, or NATS unreachable). The no-output timeout does not count it; a build it holds up too long ends as error log-unavailable and is built again.",
		}),
		crates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_builder_crate_files_total",
			Help: "Crate files the jobs from a remote registry used, by origin: cache (the builder's download cache) or download (fetched and checked against the index's sha256).",
		}, []string{"origin"}),
		sharedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ejecta_builder_shared_target_bytes",
			Help: "Disk space of each slot's shared cargo target dir, by slot and toolchain, as measured before its latest build (0 once purged).",
		}, []string{"slot", "toolchain"}),
		sharedPurges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejecta_builder_shared_target_purges_total",
			Help: "Shared target dirs purged, by cause: size (past --shared-target-size), unmeasurable, disk (free disk low), abnormal (its attempt was killed or failed spuriously), start (the builder started).",
		}, []string{"cause"}),
		sharedPurgeSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejecta_builder_shared_target_purge_seconds_total",
			Help: "Time spent purging shared target dirs (set aside at once, removed in the background).",
		}),
		stepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ejecta_builder_step_seconds",
			Help:    "Time of each step of an attempt by cargo subcommand and phase: sandbox (making, starting and ending its container or exec'd process) or process (the step's own run).",
			Buckets: stepBuckets,
		}, []string{"step", "phase"}),
	}
	// Both origins exist from the start, so a dashboard's rate is 0 rather
	// than missing on a farm that reads only directory sources.
	m.crates.WithLabelValues("download")
	m.crates.WithLabelValues("cache")
	for _, c := range buildlog.RepairCauses {
		m.logRepairs.WithLabelValues(c)
	}
	for _, c := range []string{purgeSize, purgeUnmeasurable, purgeDisk, purgeAbnormal, purgeStart} {
		m.sharedPurges.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.running, m.done, m.duration, m.logBytes, m.logChunks, m.logRepairs, m.logOmitted, m.handedBack, m.logBlocked, m.crates, m.sharedBytes, m.sharedPurges, m.sharedPurgeSeconds, m.stepSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register builder metrics: %w", err)
		}
	}
	return m, nil
}

// crateFetched counts a .crate file a job used.
func (m *metrics) crateFetched(cached bool) {
	origin := "download"
	if cached {
		origin = "cache"
	}
	m.crates.WithLabelValues(origin).Inc()
}

// finished counts an attempt whose result was published.
func (m *metrics) finished(v cargo.Verdict, took time.Duration) {
	m.done.WithLabelValues(string(v.Status), reasonClass(v.Reason)).Inc()
	m.duration.WithLabelValues(string(v.Status)).Observe(took.Seconds())
}

// stepTimed counts a step's sandbox and process time.
func (m *metrics) stepTimed(step string, took sandbox.Steps) {
	m.stepSeconds.WithLabelValues(step, phaseSandbox).Observe(took.Overhead().Seconds())
	m.stepSeconds.WithLabelValues(step, phaseProcess).Observe(took.Ran.Seconds())
}

// reasonClass drops a reason's arguments ("compiler-error(E0277,E0308)"
// becomes "compiler-error", "gave-up(3)" "gave-up"), which would make one
// series per crate or error code.
func reasonClass(reason streams.Reason) string { return string(reason.Kind()) }
