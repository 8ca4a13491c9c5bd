package logtail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoLog is returned for a log that is neither on the stream nor stored:
// the build has not started, or there is no such attempt.
var ErrNoLog = errors.New("no log on the stream or in the store")

// Reader reads build logs from LogsStream and the store.
type Reader struct {
	js   jetstream.JetStream
	st   Store
	poll time.Duration
}

// Option configures a Reader.
type Option func(*Reader)

// WithPoll sets how long a follower waits for a message before it checks
// whether the log has left the stream for the store (default 2s).
func WithPoll(d time.Duration) Option { return func(r *Reader) { r.poll = d } }

// New returns a reader; st may be nil to read the stream only.
func New(js jetstream.JetStream, st Store, opts ...Option) *Reader {
	r := &Reader{js: js, st: st, poll: 2 * time.Second}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Options say where a Copy starts and whether it waits for more.
type Options struct {
	// From skips the log's first From bytes (a reconnecting viewer).
	From uint64
	// Follow waits for new bytes until the log ends. Without it Copy
	// returns once it has written what exists now.
	Follow bool
}

// Result says how far a Copy got.
type Result struct {
	// Offset is the log offset after the last byte written.
	Offset uint64
	// Complete is true when the whole log has been read: its end marker was
	// seen on the stream, or it was read from the store.
	Complete bool
	// End is the end marker when it was read from the stream.
	End *streams.LogEnd
	// Stored is true when (the rest of) the log came from the store.
	Stored bool
}

// errNotStored marks a log the store does not hold (yet).
var errNotStored = errors.New("log not stored")

// Copy writes the log of attempt of k to w from opt.From on. Each Write
// carries the bytes of one chunk (or one buffer of a stored log), so a
// writer that frames its output (an SSE event per write) sees pieces in
// the order and size they travelled; a buildlog.TimedWriter gets each
// chunk's time with it (bytes from the store carry none).
func (r *Reader) Copy(ctx context.Context, k streams.BuildKey, attempt int, w io.Writer, opt Options) (Result, error) {
	res, err := r.fromStore(ctx, k, attempt, w, opt.From)
	if !errors.Is(err, errNotStored) {
		return res, err
	}
	subj := streams.LogSubject(k, attempt)
	if !opt.Follow {
		on, err := r.onStream(ctx, subj)
		if err != nil {
			return Result{}, err
		}
		if !on {
			// Stored and purged between the two looks, or no such log.
			res, err := r.fromStore(ctx, k, attempt, w, opt.From)
			if errors.Is(err, errNotStored) {
				return Result{}, fmt.Errorf("log of %s attempt %d: %w", k, attempt, ErrNoLog)
			}
			return res, err
		}
	}
	return r.fromStream(ctx, k, attempt, w, opt)
}

// fromStore copies a stored log from offset from; errNotStored if there is none.
func (r *Reader) fromStore(ctx context.Context, k streams.BuildKey, attempt int, w io.Writer, from uint64) (Result, error) {
	if r.st == nil {
		return Result{}, errNotStored
	}
	rc, err := openStored(ctx, r.st, k, attempt)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, errNotStored
	}
	if err != nil {
		return Result{}, fmt.Errorf("read stored log of %s attempt %d: %w", k, attempt, err)
	}
	defer rc.Close()
	if err := skipTo(rc, from); err != nil {
		return Result{}, fmt.Errorf("stored log of %s attempt %d: %w", k, attempt, err)
	}
	var times []streams.LogTime
	if _, timed := w.(buildlog.TimedWriter); timed {
		times = storedTimes(ctx, r.st, k, attempt)
	}
	buf := make([]byte, buildlog.MaxChunkBytes)
	n, err := buildlog.CopyTimed(w, rc, from, times, buf)
	res := Result{Offset: from + uint64(n), Complete: err == nil, Stored: true}
	if err != nil {
		return res, fmt.Errorf("copy stored log of %s attempt %d: %w", k, attempt, err)
	}
	return res, nil
}

// onStream reports whether subj has any message on LogsStream.
func (r *Reader) onStream(ctx context.Context, subj string) (bool, error) {
	s, err := r.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", streams.LogsStream, err)
	}
	_, err = s.GetLastMsgForSubject(ctx, subj)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up %s: %w", subj, err)
	}
	return true, nil
}

// onlyWriter and onlyReader hide ReadFrom/WriteTo so that io.CopyBuffer
// really writes one buffer at a time.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }
