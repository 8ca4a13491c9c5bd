package reporter

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/streams"
)

// DefaultDebounce is Config.Debounce when left zero.
const DefaultDebounce = time.Second

// DefaultConfirmations is Config.Confirmations when left zero.
const DefaultConfirmations = 1

// DefaultRecordGrace is Config.RecordGrace when left zero. The producer
// writes an experiment's record before it queues a job, and the reporter
// follows the records bucket, so a genuine result finds its record at once
// or, having raced the watch, within a second or so; two minutes leave
// room for a reconnect to the server or a cluster's failover.
const DefaultRecordGrace = 2 * time.Minute

// Config tunes a Reporter.
type Config struct {
	// Debounce is how long results of an experiment are gathered before its
	// report is rewritten: the first result after a write schedules the next
	// write Debounce later, and everything arriving meanwhile joins it. A
	// steady stream of results therefore still produces a write every
	// Debounce instead of postponing it forever (or further apart when
	// writes take longer than a quarter of it: markDirty). Zero means
	// DefaultDebounce.
	Debounce time.Duration
	// Confirmations is how many times every regression is re-run on both
	// toolchains before it shows as confirmed (a spurious regression is
	// re-run once). Zero means DefaultConfirmations; -1 turns re-runs off.
	Confirmations int
	// Metrics is where the reporter registers its collectors (metrics.go);
	// nil: nowhere.
	Metrics prometheus.Registerer
	// JobKey gives the re-runs the reporter queues their tickets, and
	// checks the results of experiments whose jobs carry tickets
	// (streams.JobKey). Zero: re-runs carry none and no result is checked.
	JobKey streams.JobKey
	// RecordGrace is how long a result waits for its experiment's record
	// (counted from when the results stream stored it) before it is
	// refused: without a record it cannot be judged, and with a job key
	// an experiment without one is taken as one whose results must be
	// signed (pending.go). Zero means DefaultRecordGrace.
	RecordGrace time.Duration
	// KeepLogs is how long an experiment's stored logs are kept after its
	// last build finished, for experiments that say nothing of it
	// (streams.Experiment.KeepLogs); zero keeps them. The report and the
	// log archives stay (retention.go).
	KeepLogs time.Duration
	// RetentionEvery is how often the reporter looks for logs past their
	// retention; zero means DefaultRetentionEvery.
	RetentionEvery time.Duration
	// WebURL is the web UI's address as people reach it (ejecta web), if
	// there is one: a regression's first error then links to its line on
	// the UI's log page, which numbers lines; the stored log page does not.
	WebURL string
	// WholeFromCrates is how many crates an experiment has before its
	// whole files (results.json, the crater view's, full.html's pages) are
	// rewritten on their own cadence instead of with every write
	// (whole.go). Zero means DefaultWholeFromCrates.
	WholeFromCrates int

	// maxPending and maxPendingBytes bound the results waiting for a
	// record, in all; zero means maxPendingResults and maxPendingBytes.
	maxPending, maxPendingBytes int
}

func (c Config) withDefaults() Config {
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	if c.Confirmations == 0 {
		c.Confirmations = DefaultConfirmations
	}
	if c.RecordGrace == 0 {
		c.RecordGrace = DefaultRecordGrace
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = DefaultRetentionEvery
	}
	if c.WholeFromCrates == 0 {
		c.WholeFromCrates = DefaultWholeFromCrates
	}
	if c.maxPending == 0 {
		c.maxPending = maxPendingResults
	}
	if c.maxPendingBytes == 0 {
		c.maxPendingBytes = maxPendingBytes
	}
	return c
}

// confirmations is the number of confirmation re-runs, 0 when off.
func (c Config) confirmations() int { return max(c.Confirmations, 0) }

// Validate names the first bad field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Debounce < time.Millisecond || c.Debounce > time.Hour {
		return fmt.Errorf("debounce %s: want 1ms to 1h", c.Debounce)
	}
	if c.Confirmations < -1 || c.Confirmations > streams.MaxRerunRound {
		return fmt.Errorf("confirmations %d: want 1 to %d, or -1 for none", c.Confirmations, streams.MaxRerunRound)
	}
	if c.RecordGrace < time.Millisecond || c.RecordGrace > 24*time.Hour {
		return fmt.Errorf("record grace %s: want 1ms to 24h", c.RecordGrace)
	}
	return nil
}
