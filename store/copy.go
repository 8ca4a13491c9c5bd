package store

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
)

// DefaultParallel is how many objects Copy moves at once by default. Over
// a network, one object at a time costs a round trip or more each; crater's
// report generation, uploading its logs one by one, took hours for that.
const DefaultParallel = 32

// Copy copies the objects at keys from src to dst, parallel at a time
// (0: DefaultParallel), each streamed from a Get into a Put: memory is
// bounded by parallel streams, not by the objects' sizes. It stops at the
// first error and returns it, naming the key.
func Copy(ctx context.Context, dst, src Store, keys []string, parallel int) error {
	if parallel == 0 {
		parallel = DefaultParallel
	}
	if parallel < 0 {
		return fmt.Errorf("copy: parallel %d: want at least 1", parallel)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, key := range keys {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return copyOne(gctx, dst, src, key) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// The group's context ends with Wait; only the caller's matters here.
	return ctx.Err()
}

func copyOne(ctx context.Context, dst, src Store, key string) (err error) {
	rc, err := src.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	defer func() { err = errors.Join(err, rc.Close()) }()
	if err := dst.Put(ctx, key, rc, -1, ""); err != nil {
		return fmt.Errorf("copy %s: %w", key, err)
	}
	return nil
}
