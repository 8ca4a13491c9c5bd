package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// storedLog is what the log page says about a log that is in the store.
type storedLog struct {
	Bytes uint64
	// Meta is the uploader's description of the log; nil when the store
	// has none for it.
	Meta *streams.LogMeta
}

// maxMetaBytes bounds the metadata object read: it is a few hundred bytes,
// more with many gaps.
const maxMetaBytes = 1 << 20

// storedLog describes the log of attempt of k, whose size is size, if it is
// stored; nil while it is live.
func (s *Server) storedLog(ctx context.Context, k streams.BuildKey, attempt int, size logtail.Size) (*storedLog, error) {
	if !size.Stored {
		return nil, nil
	}
	out := &storedLog{Bytes: size.Bytes}
	key := streams.ExperimentPrefix(k.Experiment) + streams.LogMetaKey(k, attempt)
	rc, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetaBytes))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var m streams.LogMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	out.Meta = &m
	return out, nil
}
