package buildlog

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// CopyTimed copies a stored log from r, which starts at the log's offset
// from, to w, giving each byte the time its times index says it was
// written: a TimedWriter gets the bytes a time at a time, as it would
// from the stream; another writer gets them plain. buf is the copy's
// buffer. It returns the bytes copied.
func CopyTimed(w io.Writer, r io.Reader, from uint64, times []streams.LogTime, buf []byte) (int64, error) {
	tw, ok := w.(TimedWriter)
	if !ok || len(times) == 0 {
		return io.CopyBuffer(writerOnly{w}, readerOnly{r}, buf)
	}
	// The entry in force at from: the last at or before it.
	i := sort.Search(len(times), func(i int) bool { return times[i].Offset > from }) - 1
	off := from
	var n int64
	for {
		k, err := r.Read(buf)
		p := buf[:k]
		for len(p) > 0 {
			at := time.Time{}
			if i >= 0 {
				at = times[i].At
			}
			part := p
			if i+1 < len(times) && times[i+1].Offset < off+uint64(len(p)) {
				part = p[:times[i+1].Offset-off]
				i++
			}
			if len(part) > 0 {
				if _, werr := tw.WriteTimed(part, at); werr != nil {
					return n, werr
				}
			}
			off += uint64(len(part))
			n += int64(len(part))
			p = p[len(part):]
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that the copy
// goes through its buffer.
type writerOnly struct{ io.Writer }

type readerOnly struct{ io.Reader }

// Getter is the part of a store StoredTimes reads from.
type Getter interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// StoredTimes reads the times index stored at key (streams.LogTimesKey,
// under the experiment's prefix), checked by streams.ReadLogTimes.
func StoredTimes(ctx context.Context, st Getter, key string) ([]streams.LogTime, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return streams.ReadLogTimes(rc)
}
