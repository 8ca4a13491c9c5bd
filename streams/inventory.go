package streams

import (
	"context"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// Streams lists every stream Ensure creates, for tools that watch them all
// (the metrics collector) without spelling their names.
func Streams() []string {
	return []string{JobsStream, LogsStream, UploadsStream, ResultsStream, DeadStream}
}

// Buckets lists every KV bucket Ensure creates.
func Buckets() []string {
	return slices.Clone(allBuckets)
}

// CountMessages counts the messages of s whose subject matches filter.
func CountMessages(ctx context.Context, s jetstream.Stream, filter string) (int, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("count the messages on %s: %w", filter, err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}
