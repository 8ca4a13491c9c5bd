package reporter

import (
	"fmt"
	"time"
)

// DefaultDebounce is Config.Debounce when left zero.
const DefaultDebounce = time.Second

// Config tunes a Reporter.
type Config struct {
	// Debounce is how long results of an experiment are gathered before its
	// report is rewritten: the first result after a write schedules the next
	// write Debounce later, and everything arriving meanwhile joins it. A
	// steady stream of results therefore still produces a write every
	// Debounce instead of postponing it forever. Zero means DefaultDebounce.
	Debounce time.Duration
}

func (c Config) withDefaults() Config {
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	return c
}

// Validate names the first bad field.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Debounce < time.Millisecond || c.Debounce > time.Hour {
		return fmt.Errorf("debounce %s: want 1ms to 1h", c.Debounce)
	}
	return nil
}
