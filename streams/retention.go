package streams

import "time"

// Bounds of ResultsStream. Results are the reporter's source of truth,
// replayed from the first at every start, so none is ever dropped to make
// room: the stream refuses what does not fit (discard new) and builders
// retry the publish until it does. It fills only when finished
// experiments pile up; `ejecta experiment delete` makes room.
const (
	// DefaultResultsMaxBytes is Config.ResultsMaxBytes by default: a result
	// takes about 600 bytes on the stream, so this holds millions, a dozen
	// full crates.io runs on two toolchains.
	DefaultResultsMaxBytes = 4 << 30
	// ResultsMaxMsgsPerSubject: a result subject is one attempt, published
	// once with its subject as Nats-Msg-Id. A few more allow a re-publish
	// after the duplicate window; past them publishes on that subject are
	// refused (discard new per subject), not the old ones dropped.
	ResultsMaxMsgsPerSubject = 8
)

// Bounds of DeadStream, a place to inspect poison messages: when one is
// reached the oldest dead letters go first.
const (
	// DeadMaxBytes holds hundreds of thousands of refused jobs or results.
	// It is kept small because JetStream reserves a stream's max bytes on
	// disk when it creates the stream.
	DeadMaxBytes = 256 << 20
	// DeadMaxPerExperiment bounds the dead letters one sender files for
	// one experiment (one subject, DeadSubject), so one experiment's flood
	// cannot push out another's, nor one sender's another's.
	DeadMaxPerExperiment = 10000
	DeadMaxAge           = 30 * 24 * time.Hour
)
