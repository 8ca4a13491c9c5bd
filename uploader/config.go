package uploader

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// Config tunes one uploader replica. Zero fields take the defaults below.
type Config struct {
	// Name identifies the replica in logs; several replicas may run.
	Name string
	// Concurrency is how many logs this replica uploads at once.
	Concurrency int
	// IdleTimeout is how long to wait for the next message of a log that is
	// not on LogsStream (yet) before giving the request back.
	IdleTimeout time.Duration
	// ProgressInterval is how often a request being worked on is reported
	// InProgress. It must stay below the UploadersConsumer's AckWait.
	ProgressInterval time.Duration
	// RetryDelay is how long a failed request waits before its redelivery;
	// it doubles with every further delivery, up to MaxRetryDelay.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// ReadAheadBytes bounds the log messages fetched ahead of what the store
	// has consumed. It must hold the largest message the server accepts
	// (its max_payload, 1 MiB by default), which New checks.
	ReadAheadBytes int
	// NoPlainLog stops storing the uncompressed log at streams.LogObjectKey
	// beside the compressed one. Results link to the plain log; set this
	// once nothing does.
	NoPlainLog bool
	// TempDir is where log pages are staged while a log streams ("": the
	// system's temporary directory). A page is at most a few MiB.
	TempDir string
	// PageHeadBytes and PageTailBytes bound a log page: a longer log shows
	// its first and last bytes only, and links to the raw log.
	PageHeadBytes int
	PageTailBytes int
	// LenientAfter is how many deliveries of a request fail on a hole (a
	// chunk missing from the stream) before the log is stored anyway, with
	// the hole marked in it and listed in its metadata.
	LenientAfter int
	// AbandonAfter is how long a log without an end marker may stay silent
	// before it is judged abandoned (its builder died) and stored as it is,
	// at least: an experiment's own no-output timeout may make it longer
	// (silence.go). It must cover the builders' default no-output timeout
	// twice over, which the uploader cannot know. A later attempt of the
	// same build on the stream abandons a log at once.
	AbandonAfter time.Duration
	// SweepInterval is how often the logs stream is scanned for abandoned
	// logs and the backlog reported.
	SweepInterval time.Duration
	// Metrics is where the uploader registers its collectors (metrics.go);
	// nil: nowhere.
	Metrics prometheus.Registerer
	// JobKey checks the upload requests of experiments whose jobs carry
	// tickets (streams.JobKey); zero: none is checked.
	JobKey streams.JobKey
}

// DefaultMemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit)
// `ejecta uploader` gives its process: the garbage collector then works
// harder instead of letting the heap double, which keeps an uploader
// storing a log of any size within 64 MiB. What it must hold is about
// 25 MiB per log in flight: one S3 part buffer per streamed object
// (store.S3PartSize), the read-ahead, the compressor's window, the page's
// head and tail.
const DefaultMemoryLimit = 48 << 20

// Defaults.
const (
	DefaultName             = "uploader"
	DefaultConcurrency      = 4
	DefaultIdleTimeout      = 30 * time.Second
	DefaultProgressInterval = 15 * time.Second
	DefaultRetryDelay       = 5 * time.Second
	DefaultMaxRetryDelay    = 5 * time.Minute
	DefaultReadAheadBytes   = 1 << 20
	DefaultPageHeadBytes    = 1 << 20
	DefaultPageTailBytes    = 1 << 20
	DefaultLenientAfter     = 8
	DefaultAbandonAfter     = 30 * time.Minute
	DefaultSweepInterval    = time.Minute
)

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ReadAheadBytes == 0 {
		c.ReadAheadBytes = DefaultReadAheadBytes
	}
	if c.PageHeadBytes == 0 {
		c.PageHeadBytes = DefaultPageHeadBytes
	}
	if c.PageTailBytes == 0 {
		c.PageTailBytes = DefaultPageTailBytes
	}
	if c.LenientAfter == 0 {
		c.LenientAfter = DefaultLenientAfter
	}
	def(&c.AbandonAfter, DefaultAbandonAfter)
	def(&c.SweepInterval, DefaultSweepInterval)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.ProgressInterval, DefaultProgressInterval)
	def(&c.RetryDelay, DefaultRetryDelay)
	def(&c.MaxRetryDelay, DefaultMaxRetryDelay)
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("name is empty")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("concurrency %d: want 1 to 1024", c.Concurrency)
	case c.IdleTimeout < 100*time.Millisecond:
		return fmt.Errorf("idle timeout %s: want at least 100ms", c.IdleTimeout)
	case c.ProgressInterval < 100*time.Millisecond:
		return fmt.Errorf("progress interval %s: want at least 100ms", c.ProgressInterval)
	case c.RetryDelay <= 0:
		return fmt.Errorf("retry delay %s: want more than 0", c.RetryDelay)
	case c.MaxRetryDelay < c.RetryDelay:
		return fmt.Errorf("max retry delay %s: want at least the retry delay %s", c.MaxRetryDelay, c.RetryDelay)
	case c.ReadAheadBytes < 2*buildlog.MaxChunkBytes:
		return fmt.Errorf("read-ahead bytes %d: want at least %d", c.ReadAheadBytes, 2*buildlog.MaxChunkBytes)
	case c.PageHeadBytes < 1024 || c.PageHeadBytes > 64<<20:
		return fmt.Errorf("page head bytes %d: want 1 KiB to 64 MiB", c.PageHeadBytes)
	case c.PageTailBytes < 1024 || c.PageTailBytes > 64<<20:
		return fmt.Errorf("page tail bytes %d: want 1 KiB to 64 MiB", c.PageTailBytes)
	case c.LenientAfter < 1:
		return fmt.Errorf("lenient after %d deliveries: want at least 1", c.LenientAfter)
	case c.AbandonAfter < time.Second:
		return fmt.Errorf("abandon after %s: want at least 1s", c.AbandonAfter)
	case c.SweepInterval < 100*time.Millisecond:
		return fmt.Errorf("sweep interval %s: want at least 100ms", c.SweepInterval)
	}
	return nil
}

// retryDelay is the Nak delay after the delivered-th delivery failed: it
// doubles with each delivery up to MaxRetryDelay, and is then spread by
// ±20% at random so that the requests failed by one outage do not all come
// back at the same instant when it ends.
func (c Config) retryDelay(delivered uint64) time.Duration {
	p := backoff.Policy{First: c.RetryDelay, Max: c.MaxRetryDelay, Jitter: backoff.Jitter{Low: 0.8, High: 1.2}}
	return p.Delay(int(min(max(delivered, 1)-1, 64)))
}
