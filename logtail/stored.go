package logtail

import (
	"context"
	"io"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// Store is the part of store.Store a log reader needs.
type Store interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// StoredKey is the object key of one attempt's stored log.
func StoredKey(k streams.BuildKey, attempt int) string {
	return streams.ExperimentPrefix(k.Experiment) + streams.LogObjectKey(k, attempt)
}

// openStored opens the raw bytes of a stored log; store.ErrNotFound if it is
// not stored (yet). Every read of a stored log goes through here, so that a
// change of the stored format (compression, a sidecar index) is one edit.
func openStored(ctx context.Context, st Store, k streams.BuildKey, attempt int) (io.ReadCloser, error) {
	return st.Get(ctx, StoredKey(k, attempt))
}

// storedTimes reads the times index stored beside an attempt's log (when
// each chunk was written), so that a stored log is read with the times a
// live one has; nil when there is none or it does not read.
func storedTimes(ctx context.Context, st Store, k streams.BuildKey, attempt int) []streams.LogTime {
	times, err := buildlog.StoredTimes(ctx, st, streams.ExperimentPrefix(k.Experiment)+streams.LogTimesKey(k, attempt))
	if err != nil {
		return nil
	}
	return times
}
