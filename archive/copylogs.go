package archive

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// logContentType is a log.txt's, as crater serves it.
const logContentType = "text/plain; charset=utf-8"

// copyLogs stores each log of entries at dstPrefix+Name in dst, plain,
// Options.Parallel at a time, and counts them in v. Within one store
// that copies objects by itself (store.ObjectCopier), a log whose plain
// object the uploader kept is copied by the store: a server-side copy on
// S3, a hard link on disk. Otherwise (another store, or only the
// compressed object kept) it is streamed: read, decompressed, checked
// against its metadata and written, as an archive entry is.
func copyLogs(ctx context.Context, dst store.Store, dstPrefix string, src store.Store, srcPrefix string, entries []Entry, opts Options, v *CraterView) error {
	copier, _ := src.(store.ObjectCopier)
	if dst != src {
		copier = nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for _, e := range entries {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			meta, err := readMeta(gctx, src, srcPrefix, e, opts.Wait)
			if err != nil {
				return err
			}
			key := dstPrefix + e.Name
			linked := copier != nil && meta.Plain != ""
			if linked {
				err = copier.CopyObject(gctx, key, srcPrefix+meta.Plain)
			} else {
				err = streamLog(gctx, dst, key, src, srcPrefix, &meta)
			}
			if err != nil {
				return fmt.Errorf("log %s: %w", key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			v.Logs++
			v.Bytes += int64(meta.Bytes)
			if linked {
				v.Linked++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// streamLog writes the log meta describes, decompressed, to key in dst.
// It appears only if every byte was read and matched the metadata.
func streamLog(ctx context.Context, dst store.Store, key string, src store.Store, srcPrefix string, meta *streams.LogMeta) error {
	dec, err := newDecoder()
	if err != nil {
		return err
	}
	defer dec.Close()
	rc, err := openLog(ctx, src, srcPrefix, meta, dec)
	if err != nil {
		return err
	}
	defer rc.Close()
	put := store.StartPut(ctx, dst, key, logContentType)
	err = copyVerified(put, rc, meta, make([]byte, copyBuffer))
	if err != nil {
		err = fmt.Errorf("%s: %w", src.Location(srcPrefix+logObject(meta)), err)
	}
	return put.Finish(ctx, err)
}
