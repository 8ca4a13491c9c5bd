package store

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// DeletePrefix deletes every object whose key starts with prefix, a
// directory-like prefix ending in '/', parallel at a time (0:
// DefaultParallel), and returns how many it deleted. It lists as it
// deletes, so memory does not grow with the number of objects; it stops at
// the first error, which names the key. An empty prefix is refused: it
// would empty the store.
func DeletePrefix(ctx context.Context, st Store, prefix string, parallel int) (int, error) {
	return DeleteWhere(ctx, st, prefix, parallel, nil)
}

// DeleteWhere is DeletePrefix for the objects under prefix whose key
// match reports true (nil: all of them).
func DeleteWhere(ctx context.Context, st Store, prefix string, parallel int, match func(key string) bool) (int, error) {
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return 0, fmt.Errorf("delete prefix %q: want a non-empty prefix ending in '/'", prefix)
	}
	if err := ValidatePrefix(prefix); err != nil {
		return 0, fmt.Errorf("delete prefix: %w", err)
	}
	if parallel == 0 {
		parallel = DefaultParallel
	}
	if parallel < 0 {
		return 0, fmt.Errorf("delete prefix %s: parallel %d: want at least 1", prefix, parallel)
	}
	var deleted atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for obj, err := range st.List(gctx, prefix) {
		if err != nil {
			g.Go(func() error { return fmt.Errorf("delete prefix %s: %w", prefix, err) })
			break
		}
		if gctx.Err() != nil {
			break
		}
		if match != nil && !match(obj.Key) {
			continue
		}
		g.Go(func() error {
			if err := st.Delete(gctx, obj.Key); err != nil {
				return err
			}
			deleted.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return int(deleted.Load()), err
	}
	return int(deleted.Load()), ctx.Err()
}
