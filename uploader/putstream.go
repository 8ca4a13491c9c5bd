package uploader

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ejecta-build/ejecta/store"
)

// putStream is one object being streamed into the store: what is written to
// it goes through an io.Pipe into a Put with unknown size (a multipart
// upload or a file write), so nothing of the object is held here.
type putStream struct {
	pw     *io.PipeWriter
	done   chan error
	cancel context.CancelFunc
	stop   func() bool
	key    string
}

// startPut starts Put of key. Shutdown (ctx ending) reaches Put through the
// pipe, not by cancelling Put: an S3 multipart upload aborts with a request
// of its own, which a cancelled context would refuse, leaving its parts
// behind.
func startPut(ctx context.Context, st store.Store, key, contentType string) *putStream {
	pr, pw := io.Pipe()
	putCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &putStream{pw: pw, done: make(chan error, 1), cancel: cancel, key: key}
	p.stop = context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	go func() {
		err := st.Put(putCtx, key, pr, -1, contentType)
		// Unblock the writer if Put gave up before the end.
		pr.CloseWithError(fmt.Errorf("store put ended: %w", err))
		p.done <- err
	}()
	return p
}

func (p *putStream) Write(b []byte) (int, error) { return p.pw.Write(b) }

// finish ends the object: with cause nil it is completed, otherwise the
// upload is abandoned and no object appears. It returns Put's error.
func (p *putStream) finish(ctx context.Context, cause error) error {
	defer p.cancel()
	defer p.stop()
	if cause != nil {
		p.pw.CloseWithError(cause)
	} else {
		p.pw.Close()
	}
	return waitPut(ctx, p.done, p.cancel)
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
