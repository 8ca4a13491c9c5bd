package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sizes what Ensure creates.
type Config struct {
	// Replicas of every stream and bucket: 1 on a single server, 3 in a cluster.
	Replicas int
	// LogMaxBytes caps LogsStream. When it is full, publishes are refused
	// (discard-new) so builders wait instead of logs being dropped.
	LogMaxBytes int64
	// ResultsMaxBytes caps ResultsStream, discard-new as LogMaxBytes (see
	// DefaultResultsMaxBytes).
	ResultsMaxBytes int64
	// JobAckWait is how long a builder may stay silent about a job before it
	// is handed to another builder; builders send InProgress well within it
	// (every 15s by default), so a killed builder's job is built again
	// within about a minute.
	JobAckWait time.Duration
	// JobMaxDeliver is how many attempts a job gets (a builder crashing or
	// being killed on it). The consumer delivers it once more than that, so
	// that a builder can end it as an error with a dead letter instead of
	// JetStream dropping it silently.
	JobMaxDeliver int
}

// DefaultConfig suits a single server.
func DefaultConfig() Config {
	return Config{Replicas: 1, LogMaxBytes: 4 << 30, ResultsMaxBytes: DefaultResultsMaxBytes, JobAckWait: 45 * time.Second, JobMaxDeliver: 3}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("replicas %d: want 1 to 5", c.Replicas)
	case c.LogMaxBytes < 1<<20:
		return fmt.Errorf("log max bytes %d: want at least 1 MiB", c.LogMaxBytes)
	case c.ResultsMaxBytes < 1<<20:
		return fmt.Errorf("results max bytes %d: want at least 1 MiB", c.ResultsMaxBytes)
	case c.JobAckWait < 5*time.Second:
		return fmt.Errorf("job ack wait %s: want at least 5s", c.JobAckWait)
	case c.JobMaxDeliver < 1:
		return fmt.Errorf("job max deliver %d: want at least 1", c.JobMaxDeliver)
	}
	return nil
}

// JobsDuplicateWindow is how long JetStream remembers a job's Nats-Msg-Id.
// The producer also records progress in the experiment record, so a repeat
// of `experiment create` after the window publishes nothing either.
const JobsDuplicateWindow = time.Hour

// MaxMessageBytes bounds a message (data and headers) on every stream but
// the dead letters': a job, result or upload request is a few hundred
// bytes and a log chunk at most buildlog.MaxChunkBytes with its headers,
// so anything larger is refused by the server at publish, with "message
// size exceeds maximum allowed", instead of reaching a component.
const MaxMessageBytes = 64 << 10

// HeartbeatTTL is how long a builder's heartbeat lives without renewal:
// a builder that stops renewing disappears from `ejecta builders`.
const HeartbeatTTL = 30 * time.Second

// jobsQueued wakes idle builders when a job is queued. The server
// republishes the headers of every job it stores (the job's subject among
// them) to JobsQueuedFilter, without the body: builders subscribe there,
// so a job's body and its ticket reach a builder only when it fetches the
// job. This rather than a notice every publisher sends besides the job:
// the stream itself does it, for every publisher (producer, reporter,
// retry, an operator's nats CLI), only for jobs actually stored (not for
// duplicates), and nothing new needs a publish permission.
var jobsQueued = &jetstream.RePublish{Source: jobsPrefix + ".>", Destination: queuedPrefix + ".>", HeadersOnly: true}

// uploadsSubjects are UploadsStream's: the builders' requests and the
// uploaders' own for abandoned logs. The one uploaders' consumer sees both.
var uploadsSubjects = []string{uploadsPrefix + ".>", abandonedPrefix + ".>"}

// Ensure creates or updates every stream, consumer and KV bucket. It is
// idempotent and every component calls it at start-up.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("streams config: %w", err)
	}
	r := cfg.Replicas
	for _, sc := range []jetstream.StreamConfig{
		{
			Name: JobsStream, Subjects: []string{jobsPrefix + ".>"},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Duplicates: JobsDuplicateWindow, Replicas: r, MaxMsgSize: MaxMessageBytes,
			Description: "jobs waiting for a builder (work queue, one consumer per experiment and toolchain)",
			Metadata:    cfg.jobsPolicy().metadata(),
			RePublish:   jobsQueued,
		},
		{
			Name: LogsStream, Subjects: []string{logsPrefix + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
			MaxBytes: cfg.LogMaxBytes, Discard: jetstream.DiscardNew,
			Duplicates: 2 * time.Minute, Replicas: r, MaxMsgSize: MaxMessageBytes,
			Description: "log chunks of builds in flight; removed once stored",
		},
		{
			Name: UploadsStream, Subjects: uploadsSubjects,
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Duplicates: 2 * time.Minute, Replicas: r, MaxMsgSize: MaxMessageBytes,
			Description: "complete logs waiting for an uploader (work queue)",
		},
		{
			Name: ResultsStream, Subjects: []string{resultsPrefix + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
			Duplicates: 10 * time.Minute, Replicas: r, MaxMsgSize: MaxMessageBytes,
			MaxBytes: cfg.ResultsMaxBytes, Discard: jetstream.DiscardNew,
			MaxMsgsPerSubject: ResultsMaxMsgsPerSubject, DiscardNewPerSubject: true,
			Description: "result of every attempt",
		},
		{
			Name: DeadStream, Subjects: []string{deadPrefix + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage, Replicas: r,
			MaxBytes: DeadMaxBytes, Discard: jetstream.DiscardOld,
			MaxMsgsPerSubject: DeadMaxPerExperiment, MaxAge: DeadMaxAge,
			Description: "poison messages, kept for an operator to inspect",
		},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	for stream, cc := range map[string]jetstream.ConsumerConfig{
		UploadsStream: {
			Durable: UploadersConsumer, FilterSubjects: uploadsSubjects,
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
			MaxDeliver: -1, MaxAckPending: 100000, Replicas: r,
			Description: "shared by every uploader replica",
		},
	} {
		if _, err := js.CreateOrUpdateConsumer(ctx, stream, cc); err != nil {
			return fmt.Errorf("ensure consumer %s on %s: %w", cc.Durable, stream, err)
		}
	}
	// Job consumers are per experiment (consumers.go); they follow cfg too.
	if err := syncJobsConsumers(ctx, js, cfg.jobsPolicy()); err != nil {
		return err
	}
	for _, kc := range []jetstream.KeyValueConfig{
		{Bucket: ExperimentsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BuildersBucket, History: 1, TTL: HeartbeatTTL, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: ProgressBucket, History: 1, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: EndpointsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: r, MaxValueSize: 4 << 10},
	} {
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", kc.Bucket, err)
		}
	}
	return nil
}

// ErrNotFound is returned by lookups of a missing experiment or record.
var ErrNotFound = errors.New("not found")
