package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
)

// logCheckEvery is how often a request for a log that does not exist yet
// looks for it again.
const logCheckEvery = 250 * time.Millisecond

// waitForLog returns the size of the log of attempt of k once it is on the
// stream or in the store. A log in neither is looked for again for up to
// Config.LogWait, long enough for a build that has just started to publish
// its first chunk; after that the error is logtail.ErrNoLog. Every log
// route starts here, so that a log that never comes (a mistyped attempt, a
// build that was never queued) is a 404, not a request that waits as long
// as its client does, an event stream holding an ordered consumer all that
// time.
func (s *Server) waitForLog(ctx context.Context, k streams.BuildKey, attempt int) (logtail.Size, error) {
	deadline := time.Now().Add(s.cfg.LogWait)
	for {
		size, err := s.logs.Size(ctx, k, attempt)
		if !errors.Is(err, logtail.ErrNoLog) {
			return size, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return size, fmt.Errorf("%w (looked for %s)", err, s.cfg.LogWait)
		}
		t := time.NewTimer(min(logCheckEvery, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return logtail.Size{}, ctx.Err()
		case <-t.C:
		}
	}
}

// logError answers a log request whose log could not be found or read: 404
// for a log that does not exist, nothing for a client that has gone, 502
// otherwise.
func (s *Server) logError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, logtail.ErrNoLog):
		http.Error(w, err.Error(), http.StatusNotFound)
	case r.Context().Err() != nil:
	default:
		s.fail(w, what, err)
	}
}
