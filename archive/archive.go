package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/store"
)

// Defaults of Options.
const (
	DefaultParallel = 8
	DefaultBudget   = 16 << 20
)

// zstdWindow is the compressor's window: big enough to find what the two
// toolchains' logs of one crate, adjacent in the archive, have in common,
// small enough to keep the encoder at a few MiB.
const zstdWindow = 1 << 20

// ContentType of a stored archive.
const ContentType = "application/zstd"

// Entry is one stored log to put in an archive.
type Entry struct {
	// Name is the entry's path inside the archive.
	Name string
	// Meta is the key of the log's metadata (streams.LogMeta), relative to
	// the prefix given to Write. The object keys the metadata names are
	// relative to the same prefix.
	Meta string
}

// Options tune Write. The zero value is usable.
type Options struct {
	// Parallel is how many logs are read from the store at once
	// (0: DefaultParallel).
	Parallel int
	// Budget bounds the bytes of logs read ahead and held in memory
	// (0: DefaultBudget). A log larger than Budget/Parallel is never read
	// ahead but streamed when its turn comes.
	Budget int64
	// Wait is how long a log's metadata may be missing before Write gives
	// up: an upload can finish after the result that names its log. Zero
	// means no waiting.
	Wait time.Duration
}

func (o Options) withDefaults() Options {
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.Budget == 0 {
		o.Budget = DefaultBudget
	}
	return o
}

// Validate names the first bad field.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Parallel < 1 || o.Parallel > 1024:
		return fmt.Errorf("archive parallel %d: want 1 to 1024", o.Parallel)
	case o.Budget < 1<<20:
		return fmt.Errorf("archive memory budget %d bytes: want at least 1 MiB", o.Budget)
	case o.Wait < 0:
		return fmt.Errorf("archive wait %s: want zero or more", o.Wait)
	}
	return nil
}

// Summary describes a stored archive.
type Summary struct {
	Key  string `json:"key"`
	Logs int    `json:"logs"`
	// Bytes is the size of the logs in it, uncompressed.
	Bytes int64 `json:"bytes"`
}

// ErrMissingLog is returned (wrapped, naming the log) when a log's
// metadata is still missing after Options.Wait.
var ErrMissingLog = errors.New("log not stored")

// Write stores at key in st a tar.zst archive of entries, in their order.
// Keys in entries are relative to prefix. The archive replaces any object
// at key, and appears only if every entry was written and verified: on an
// error the upload is abandoned and the previous object (if any) stays.
func Write(ctx context.Context, st store.Store, prefix, key string, entries []Entry, opts Options) (Summary, error) {
	return WriteTo(ctx, st, key, st, prefix, entries, opts)
}

// WriteTo is Write with the archive stored at key in dst, the logs read
// from src.
func WriteTo(ctx context.Context, dst store.Store, key string, src store.Store, prefix string, entries []Entry, opts Options) (Summary, error) {
	if err := opts.Validate(); err != nil {
		return Summary{}, err
	}
	opts = opts.withDefaults()
	sum := Summary{Key: key}
	put := store.StartPut(ctx, dst, key, ContentType)
	err := writeTar(ctx, put, src, prefix, entries, opts, &sum)
	if err := put.Finish(ctx, err); err != nil {
		return Summary{}, fmt.Errorf("archive %s: %w", dst.Location(key), err)
	}
	return sum, nil
}

// writeTar writes the compressed tar stream of entries into w.
func writeTar(ctx context.Context, w io.Writer, st store.Store, prefix string, entries []Entry, opts Options, sum *Summary) error {
	// Concurrency 1 keeps the encoder synchronous, with one window of
	// memory, instead of one per CPU.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow),
		zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return fmt.Errorf("zstd encoder: %w", err)
	}
	tw := tar.NewWriter(zw)
	pf := startPrefetch(ctx, st, prefix, entries, opts)
	defer pf.stop()
	for range entries {
		lg, err := pf.next()
		if err != nil {
			return err
		}
		n, err := lg.writeTo(ctx, tw, st, prefix, pf.dec)
		pf.release(lg)
		if err != nil {
			return err
		}
		sum.Logs++
		sum.Bytes += n
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("end tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("end zstd: %w", err)
	}
	return nil
}
