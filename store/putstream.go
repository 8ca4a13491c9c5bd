package store

import (
	"context"
	"fmt"
	"io"
	"time"
)

// PutStream is one object being streamed into a Store: what is written to
// it goes through an io.Pipe into a Put with unknown size (a multipart
// upload or a file write), so the writer never holds the whole object.
type PutStream struct {
	pw     *io.PipeWriter
	done   chan error
	cancel context.CancelFunc
	stop   func() bool
}

// StartPut starts a Put of key into st. The end of ctx reaches Put through
// the pipe, not by cancelling Put: an S3 multipart upload aborts with a
// request of its own, which a cancelled context would refuse, leaving its
// parts behind.
func StartPut(ctx context.Context, st Store, key, contentType string) *PutStream {
	pr, pw := io.Pipe()
	putCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &PutStream{pw: pw, done: make(chan error, 1), cancel: cancel}
	p.stop = context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	go func() {
		err := st.Put(putCtx, key, pr, -1, contentType)
		// Unblock the writer if Put gave up before the end.
		pr.CloseWithError(fmt.Errorf("store put ended: %w", err))
		p.done <- err
	}()
	return p
}

// Write streams b into the object.
func (p *PutStream) Write(b []byte) (int, error) { return p.pw.Write(b) }

// putGrace is how long a Put may take to wind down once ctx has ended.
const putGrace = 10 * time.Second

// Finish ends the object: with cause nil it is completed, otherwise the
// upload is abandoned and no object appears. It returns Put's error, cause
// when Put was abandoned for it.
func (p *PutStream) Finish(ctx context.Context, cause error) error {
	defer p.cancel()
	defer p.stop()
	if cause != nil {
		p.pw.CloseWithError(cause)
	} else {
		p.pw.Close()
	}
	err := p.wait(ctx)
	if cause != nil {
		return cause
	}
	return err
}

// wait waits for Put's result, cancelling Put if it is still running
// putGrace after ctx ended.
func (p *PutStream) wait(ctx context.Context) error {
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(putGrace)
	defer t.Stop()
	select {
	case err := <-p.done:
		return err
	case <-t.C:
		p.cancel()
		return <-p.done
	}
}
