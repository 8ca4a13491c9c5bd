package sandbox

import (
	"context"
	"fmt"
)

// Ping checks that containerd answers, for a builder's readiness probe:
// while it does not, no task can start.
func (c *Containerd) Ping(ctx context.Context) error {
	if _, err := c.client.Version(ctx); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	return nil
}
