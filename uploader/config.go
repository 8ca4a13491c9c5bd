package uploader

import (
	"fmt"
	"time"

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
}

// Defaults.
const (
	DefaultName             = "uploader"
	DefaultConcurrency      = 4
	DefaultIdleTimeout      = 30 * time.Second
	DefaultProgressInterval = 15 * time.Second
	DefaultRetryDelay       = 5 * time.Second
	DefaultMaxRetryDelay    = 5 * time.Minute
	DefaultReadAheadBytes   = 2 << 20
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
	case c.ReadAheadBytes < 2*streams.MaxChunkBytes:
		return fmt.Errorf("read-ahead bytes %d: want at least %d", c.ReadAheadBytes, 2*streams.MaxChunkBytes)
	}
	return nil
}

// retryDelay is the Nak delay after the delivered-th delivery failed.
func (c Config) retryDelay(delivered uint64) time.Duration {
	d := c.RetryDelay
	for i := uint64(1); i < delivered && d < c.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxRetryDelay)
}
