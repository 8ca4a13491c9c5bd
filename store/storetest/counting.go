// Package storetest holds what tests of the packages that write to a
// store.Store share.
package storetest

import (
	"context"
	"io"
	"sync"

	"github.com/ejecta-build/ejecta/store"
)

// Counting is a store.Store that counts, per key, the Puts that completed:
// what a test checks to see that an object was written once, or again.
type Counting struct {
	store.Store
	mu   sync.Mutex
	puts map[string]int
}

// NewCounting wraps s.
func NewCounting(s store.Store) *Counting {
	return &Counting{Store: s, puts: map[string]int{}}
}

func (c *Counting) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := c.Store.Put(ctx, key, r, size, contentType); err != nil {
		return err
	}
	c.mu.Lock()
	c.puts[key]++
	c.mu.Unlock()
	return nil
}

// Puts is how many Puts of key completed.
func (c *Counting) Puts(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts[key]
}
