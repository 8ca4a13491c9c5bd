package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// skipTo moves r to offset from. A stored object that can seek (a file, an
// S3 object, which then asks for a byte range) is not read up to from, so
// reading the tail of a big log costs what the tail costs.
func skipTo(r io.Reader, from uint64) error {
	if s, ok := r.(io.Seeker); ok {
		size, err := s.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("size: %w", err)
		}
		if uint64(size) < from {
			return fmt.Errorf("%d bytes, fewer than offset %d: %w", size, from, io.ErrUnexpectedEOF)
		}
		if _, err := s.Seek(int64(from), io.SeekStart); err != nil {
			return fmt.Errorf("seek to %d: %w", from, err)
		}
		return nil
	}
	if n, err := io.CopyN(io.Discard, r, int64(from)); err != nil {
		return fmt.Errorf("%d bytes, fewer than offset %d: %w", n, from, err)
	}
	return nil
}

// Size says how long a log is now and whether it can grow.
type Size struct {
	// Bytes is the log's length: the stored object's, or the offset after
	// the last chunk on the stream.
	Bytes uint64
	// Complete is true when the log will not grow: it is stored, or its end
	// marker is on the stream.
	Complete bool
	// Stored is true when the log was found in the store.
	Stored bool
}

// Size returns the current length of the log of attempt of k, from the
// store's object or the last message on the stream, without reading the
// log; ErrNoLog if it is in neither.
func (r *Reader) Size(ctx context.Context, k streams.BuildKey, attempt int) (Size, error) {
	if r.st != nil {
		rc, err := openStored(ctx, r.st, k, attempt)
		switch {
		case err == nil:
			defer rc.Close()
			n, err := storedSize(rc)
			if err != nil {
				return Size{}, fmt.Errorf("size of stored log of %s attempt %d: %w", k, attempt, err)
			}
			return Size{Bytes: n, Complete: true, Stored: true}, nil
		case !errors.Is(err, store.ErrNotFound):
			return Size{}, fmt.Errorf("read stored log of %s attempt %d: %w", k, attempt, err)
		}
	}
	subj := streams.LogSubject(k, attempt)
	s, err := r.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		return Size{}, fmt.Errorf("open %s: %w", streams.LogsStream, err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) && r.st != nil {
		// Stored and purged between the two looks, or never there.
		rc, serr := openStored(ctx, r.st, k, attempt)
		if serr == nil {
			defer rc.Close()
			n, err := storedSize(rc)
			return Size{Bytes: n, Complete: true, Stored: true}, err
		}
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Size{}, fmt.Errorf("log of %s attempt %d: %w", k, attempt, ErrNoLog)
	}
	if err != nil {
		return Size{}, fmt.Errorf("look up %s: %w", subj, err)
	}
	chunk, end, err := buildlog.ParseMsg(msg.Header, msg.Data)
	if err != nil {
		return Size{}, fmt.Errorf("log %s: %w", subj, err)
	}
	if end != nil {
		return Size{Bytes: end.Bytes, Complete: true}, nil
	}
	return Size{Bytes: chunk.Offset + uint64(len(chunk.Data))}, nil
}

// storedSize is the length of an opened stored log: by seeking where the
// store allows it, else by reading it through.
func storedSize(r io.Reader) (uint64, error) {
	if s, ok := r.(io.Seeker); ok {
		n, err := s.Seek(0, io.SeekEnd)
		return uint64(n), err
	}
	n, err := io.Copy(io.Discard, r)
	return uint64(n), err
}
