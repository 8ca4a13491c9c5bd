package streams

import (
	"encoding/json"
	"fmt"
	"time"
)

// Limits are an experiment's own sandbox limits, copied into each of its
// jobs. A zero field means "the builder's default" (crater's 1.5 GB,
// 15 min, 5 min), so jobs of experiments that set none stay as they were.
type Limits struct {
	MemoryBytes     int64    `json:"memory_bytes,omitempty"`
	Timeout         Duration `json:"timeout,omitempty"`
	NoOutputTimeout Duration `json:"no_output_timeout,omitempty"`
	// TmpBytes sizes each build's private /tmp (a tmpfs; default 512 MiB).
	TmpBytes int64 `json:"tmp_bytes,omitempty"`
}

// Bounds of what an experiment may ask for: below them nothing builds,
// above them a builder slot would be held for days.
const (
	MinMemoryBytes = 64 << 20
	MaxMemoryBytes = 1 << 40
	MinTimeout     = time.Second
	MaxTimeout     = 24 * time.Hour
	MinTmpBytes    = 1 << 20
	MaxTmpBytes    = 1 << 40
)

// Validate names the first limit out of bounds.
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes != 0 && (l.MemoryBytes < MinMemoryBytes || l.MemoryBytes > MaxMemoryBytes):
		return fmt.Errorf("memory_bytes %d: want 64 MiB to 1 TiB", l.MemoryBytes)
	case l.Timeout != 0 && (l.Timeout.D() < MinTimeout || l.Timeout.D() > MaxTimeout):
		return fmt.Errorf("timeout %s: want 1s to 24h", l.Timeout.D())
	case l.NoOutputTimeout != 0 && (l.NoOutputTimeout.D() < MinTimeout || l.NoOutputTimeout.D() > MaxTimeout):
		return fmt.Errorf("no_output_timeout %s: want 1s to 24h", l.NoOutputTimeout.D())
	case l.TmpBytes != 0 && (l.TmpBytes < MinTmpBytes || l.TmpBytes > MaxTmpBytes):
		return fmt.Errorf("tmp_bytes %d: want 1 MiB to 1 TiB", l.TmpBytes)
	}
	return nil
}

// Duration is a time.Duration written in JSON as Go's duration text
// ("15m0s"), readable in `nats kv get` and hand-written messages.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"15m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
