package builder

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{ID: "b1", WorkDir: "/var/tmp/x", CargoPath: "/bin/sh", RustupHome: "/root/.rustup"}.withDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if good.Slots < 1 || good.MemoryBytes != 1536<<20 || good.Timeout != 15*time.Minute || good.SharedTargetBytes != DefaultSharedTargetBytes {
		t.Errorf("defaults not filled: %+v", good)
	}
	for _, tc := range []struct {
		field  string
		mutate func(*Config)
	}{
		{"id", func(c *Config) { c.ID = "" }},
		{"id", func(c *Config) { c.ID = "a--b" }},                  // containerd refuses it in container IDs
		{"id", func(c *Config) { c.ID = strings.Repeat("a", 41) }}, // container ID too long
		{"slots", func(c *Config) { c.Slots = -1 }},
		{"work dir", func(c *Config) { c.WorkDir = "rel" }},
		{"cargo path", func(c *Config) { c.CargoPath = "/nonexistent/cargo" }},
		{"memory bytes", func(c *Config) { c.MemoryBytes = 1 }},
		{"timeout", func(c *Config) { c.Timeout = time.Millisecond }},
		{"heartbeat every", func(c *Config) { c.HeartbeatEvery = time.Hour }},
		{"max log bytes", func(c *Config) { c.MaxLogBytes = 1000 }},
		{"max log bytes", func(c *Config) { c.MaxLogBytes = -2 }},
		{"shared target bytes", func(c *Config) { c.SharedTargetBytes = 1 << 20 }},
	} {
		c := good
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate = %v, want an error naming it", tc.field, err)
		}
	}
}
