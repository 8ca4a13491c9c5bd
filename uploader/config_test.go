package uploader

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string // "" for valid
	}{
		{func(*Config) {}, ""},
		{func(c *Config) { c.Concurrency = -1 }, "concurrency"},
		{func(c *Config) { c.IdleTimeout = time.Millisecond }, "idle timeout"},
		{func(c *Config) { c.ProgressInterval = -time.Second }, "progress interval"},
		{func(c *Config) { c.RetryDelay = -time.Second }, "retry delay"},
		{func(c *Config) { c.MaxRetryDelay = time.Millisecond }, "max retry delay"},
		{func(c *Config) { c.ReadAheadBytes = 10 }, "read-ahead bytes"},
		{func(c *Config) { c.PageHeadBytes = 10 }, "page head bytes"},
		{func(c *Config) { c.PageTailBytes = 1 << 40 }, "page tail bytes"},
		{func(c *Config) { c.LenientAfter = -1 }, "lenient after"},
		{func(c *Config) { c.AbandonAfter = time.Millisecond }, "abandon after"},
		{func(c *Config) { c.SweepInterval = time.Millisecond }, "sweep interval"},
	} {
		cfg := Config{}
		tc.mod(&cfg)
		err := cfg.withDefaults().Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("default config: %v", err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	c := Config{RetryDelay: time.Second, MaxRetryDelay: 10 * time.Second}
	for delivered, want := range map[uint64]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 1000: 10 * time.Second} {
		lo, hi := want*8/10, want*12/10
		seen := map[time.Duration]bool{}
		for range 20 {
			got := c.retryDelay(delivered)
			seen[got] = true
			if got < lo || got > hi {
				t.Errorf("retryDelay(%d) = %s, want %s ± 20%%", delivered, got, want)
			}
		}
		if len(seen) < 2 {
			t.Errorf("retryDelay(%d) always %v: no jitter", delivered, seen)
		}
	}
}
