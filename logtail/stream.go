package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// fromStream reads the log from LogsStream (buildlog.Reader, which checks
// it), waiting for new chunks when opt.Follow. When the log leaves the
// stream underneath (an uploader stored and purged it), or the stream no
// longer holds it whole, it carries on from the store at the offset
// reached.
func (r *Reader) fromStream(ctx context.Context, k streams.BuildKey, attempt int, w io.Writer, opt Options) (Result, error) {
	subj := streams.LogSubject(k, attempt)
	opts := []buildlog.Option{buildlog.From(opt.From), buildlog.Idle(r.poll)}
	if !opt.Follow {
		opts = append(opts, buildlog.UpToNow())
	}
	lr, err := buildlog.Open(ctx, r.js, subj, opts...)
	if err != nil {
		return Result{}, err
	}
	defer lr.Close()
	reached := func() uint64 { return max(lr.Offset(), opt.From) }
	// switchToStore finishes from the store, or says why it cannot.
	switchToStore := func(why string) (Result, error) {
		res, err := r.fromStore(ctx, k, attempt, w, reached())
		if errors.Is(err, errNotStored) {
			return Result{Offset: reached()}, fmt.Errorf("log %s after %d bytes: %s, and it is not stored", subj, lr.Offset(), why)
		}
		return res, err
	}
	for {
		_, err := lr.WriteTo(w)
		var fault *buildlog.Error
		switch {
		case err == nil:
			return Result{Offset: reached(), Complete: lr.End() != nil, End: lr.End()}, nil
		case errors.Is(err, buildlog.ErrIdle):
		case errors.As(err, &fault):
			return switchToStore(fault.Problem)
		default:
			return Result{Offset: reached()}, err
		}
		on, err := r.onStream(ctx, subj)
		switch {
		case err != nil:
			return Result{Offset: reached()}, err
		case on && opt.Follow:
			continue
		case on:
			return Result{Offset: reached()}, nil
		}
		res, err := r.fromStore(ctx, k, attempt, w, reached())
		if errors.Is(err, errNotStored) && opt.Follow && lr.Offset() == 0 {
			continue // not started yet
		}
		if errors.Is(err, errNotStored) {
			return switchToStore("it left the stream")
		}
		return res, err
	}
}
