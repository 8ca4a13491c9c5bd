package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// logContentType is what the store records for a log. Logs are mostly
// UTF-8 but may hold any byte; a viewer must escape them whatever this says.
const logContentType = "text/plain; charset=utf-8"

// errLost marks a request whose log is neither on LogsStream nor in the
// store: no redelivery can bring it back.
var errLost = errors.New("log is not on the logs stream and not in the store")

// handle settles one upload request: ack, nak with delay, or dead letter.
func (u *Uploader) handle(ctx context.Context, logs jetstream.Stream, msg jetstream.Msg) {
	var req streams.UploadRequest
	if err := streams.Decode(msg.Data(), &req); err != nil {
		u.deadLetter(ctx, msg, err)
		return
	}
	log := u.log.With().
		Str("experiment", req.Experiment).Str("crate", req.Crate).Str("version", req.Version).
		Str("toolchain", req.Toolchain).Int("attempt", req.Attempt).Logger()

	stop := keepAlive(msg, u.cfg.ProgressInterval, log)
	start := time.Now()
	n, fresh, err := u.upload(ctx, logs, req, log)
	stop()

	switch {
	case err == nil && !fresh:
		if err := ack(ctx, msg); err != nil {
			log.Warn().Err(err).Msg("ack of a finished request not confirmed")
		}
	case err == nil:
		// Wait for the server's word: an ack lost on the way would have
		// another replica find the log purged and the object stored, which
		// is fine, but the log line below should not claim more than it knows.
		if err := ack(ctx, msg); err != nil {
			log.Warn().Err(err).Msg("log stored but the ack was not confirmed; a redelivery will find it done")
			return
		}
		log.Info().Uint64("bytes", n).Dur("took", time.Since(start)).Msg("log stored")
	case ctx.Err() != nil:
		// Shutting down: hand the request to another replica now rather
		// than after AckWait.
		msg.Nak()
		log.Info().Msg("upload interrupted by shutdown; request given back")
	case errors.Is(err, errLost):
		u.deadLetter(ctx, msg, err)
	default:
		delay := u.cfg.retryDelay(deliveries(msg))
		ev := log.Error().Err(err).Dur("retry_in", delay)
		var le *logError
		if errors.As(err, &le) {
			ev = ev.Uint64("seq", le.Seq).Uint64("bytes", le.Bytes)
		}
		ev.Msg("upload failed")
		msg.NakWithDelay(delay)
	}
}

// upload stores the log req names, purges it from the stream, and returns
// its size and true. A request whose log was already stored and purged is
// done without an upload: it returns 0 and false.
func (u *Uploader) upload(ctx context.Context, logs jetstream.Stream, req streams.UploadRequest, log zerolog.Logger) (uint64, bool, error) {
	subj := streams.LogSubject(req.BuildKey, req.Attempt)
	key := streams.ExperimentPrefix(req.Experiment) + streams.LogObjectKey(req.BuildKey, req.Attempt)

	_, err := logs.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		stored, err := u.stored(ctx, key)
		switch {
		case err != nil:
			return 0, false, err
		case !stored:
			return 0, false, fmt.Errorf("upload %s: %w", subj, errLost)
		}
		log.Info().Str("object", u.st.Location(key)).Msg("log already stored and purged; request was a redelivery")
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: look up log: %w", subj, err)
	}

	end, err := u.copyToStore(ctx, subj, key)
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: %w", subj, err)
	}
	if req.End != end {
		// The stream's end marker is what the bytes were checked against;
		// the copy in the request is informational.
		log.Warn().Interface("request_end", req.End).Interface("marker_end", end).
			Msg("upload request and end marker disagree; stored what the end marker vouches for")
	}
	// Once stored, the chunks only take space that builders need: the stream
	// refuses new chunks when full.
	fctx, cancel := finishing(ctx)
	defer cancel()
	if err := logs.Purge(fctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return 0, false, fmt.Errorf("upload %s: stored, but purge: %w", subj, err)
	}
	return end.Bytes, true, nil
}

// stored reports whether the store holds an object at key.
func (u *Uploader) stored(ctx context.Context, key string) (bool, error) {
	rc, err := u.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", key, err)
	}
	rc.Close()
	return true, nil
}

// copyToStore streams the log on subj into the store at key and returns its
// verified end marker. The object is only completed if the whole log
// checked out.
func (u *Uploader) copyToStore(ctx context.Context, subj, key string) (streams.LogEnd, error) {
	pr, pw := io.Pipe()
	// Shutdown is delivered through the pipe, not by cancelling Put: an S3
	// multipart upload aborts with a request of its own, which a cancelled
	// context would refuse, leaving its parts behind.
	putCtx, cancelPut := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPut()
	stopWatch := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stopWatch()

	putDone := make(chan error, 1)
	go func() {
		err := u.st.Put(putCtx, key, pr, -1, logContentType)
		// Unblock the writer if Put gave up before the end.
		pr.CloseWithError(fmt.Errorf("store put ended: %w", err))
		putDone <- err
	}()

	end, err := u.copyLog(ctx, subj, pw)
	if err != nil {
		pw.CloseWithError(err)
		waitPut(ctx, putDone, cancelPut)
		return streams.LogEnd{}, err
	}
	pw.Close()
	if err := waitPut(ctx, putDone, cancelPut); err != nil {
		return streams.LogEnd{}, fmt.Errorf("store %s: %w", u.st.Location(key), err)
	}
	return end, nil
}

// finishTimeout bounds the bookkeeping after a log is stored.
const finishTimeout = 10 * time.Second

// finishing is the context for the purge and ack that follow a stored log:
// a shutdown arriving now should not throw away an upload that is done.
func finishing(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
}

// ack acknowledges msg and waits for the server to confirm it.
func ack(ctx context.Context, msg jetstream.Msg) error {
	fctx, cancel := finishing(ctx)
	defer cancel()
	return msg.DoubleAck(fctx)
}

// putGrace is how long a Put may take to wind down once ctx has ended.
const putGrace = 10 * time.Second

// waitPut waits for Put's result, cancelling Put if it is still running
// putGrace after ctx ended.
func waitPut(ctx context.Context, done <-chan error, cancel context.CancelFunc) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(putGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		cancel()
		return <-done
	}
}

// deliveries is how many times msg has been delivered, 1 if unknown.
func deliveries(msg jetstream.Msg) uint64 {
	md, err := msg.Metadata()
	if err != nil || md.NumDelivered == 0 {
		return 1
	}
	return md.NumDelivered
}
