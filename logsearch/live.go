package logsearch

import (
	"context"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/logtail"
)

// StreamLogs is Live over the logs stream, read through logtail: what a
// running build has logged so far.
type StreamLogs struct {
	JS     jetstream.JetStream
	Reader *logtail.Reader
}

// Logs lists the attempts of exp whose chunks are on the stream.
func (s StreamLogs) Logs(ctx context.Context, exp string) ([]Log, error) {
	atts, err := logtail.Attempts(ctx, s.JS, exp)
	if err != nil {
		return nil, err
	}
	var out []Log
	for _, a := range atts {
		if a.Live && a.Attempt > 0 {
			out = append(out, Log{BuildKey: a.BuildKey, Attempt: a.Attempt})
		}
	}
	return out, nil
}

// Copy writes what there is of l's log now, without waiting for more.
func (s StreamLogs) Copy(ctx context.Context, l Log, w io.Writer) error {
	_, err := s.Reader.Copy(ctx, l.BuildKey, l.Attempt, w, logtail.Options{})
	return err
}
