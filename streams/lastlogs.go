package streams

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LastLogMessagesConsumer is the consumer the uploaders' sweep for
// abandoned logs reads LogsStream with: an ephemeral pull consumer that
// delivers the last message of every log subject, in stream order, and
// then whatever is published after. One pass over it sees every log once,
// with what its last message says (an end marker or not, when it came),
// without a listing of every subject held in memory.
//
// It delivers whole messages, not headers alone: an end marker of a
// ticketed experiment counts only if its signature, which covers its
// payload, checks, and the payload of a few hundred bytes is cheaper than
// a request per log to fetch it. Chunks are at most buildlog.MaxChunkBytes.
//
// It is not an ordered consumer: on a gap an ordered consumer is made
// again from the next sequence with every message after it, and a chunk
// that is not a log's last would then be read as if it were.
func LastLogMessagesConsumer() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		FilterSubject: LogsFilter,
		DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:     jetstream.AckNonePolicy,
		MemoryStorage: true,
		Replicas:      1,
		// A sweep deletes its consumer when done; the server removes the
		// consumer of one that died.
		InactiveThreshold: time.Minute,
		Description:       "the last message of every log, for a sweep for abandoned logs",
	}
}
