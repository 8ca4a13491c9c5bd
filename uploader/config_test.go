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
		if got := c.retryDelay(delivered); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", delivered, got, want)
		}
	}
}
