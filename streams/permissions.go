package streams

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a NATS user of ejecta is allowed to do. Each component runs
// as its own role, so a compromised or buggy builder cannot publish jobs
// and a viewer cannot change anything.
type Role string

const (
	// RoleProducer creates experiments: it writes experiment records,
	// publishes jobs and creates the consumers builders take them from.
	RoleProducer Role = "producer"
	// RoleBuilder takes jobs and publishes their logs, upload requests,
	// results, dead letters and its heartbeat. It never holds the job key
	// (tickets.go), and receives a job's body only by fetching it.
	RoleBuilder Role = "builder"
	// RoleUploader stores complete logs: it takes upload requests, reads and
	// purges log chunks, and asks for abandoned logs to be stored (alone:
	// AbandonedUploadSubject is its own).
	RoleUploader Role = "uploader"
	// RoleReporter replays results, keeps progress and publishes re-run
	// jobs that confirm regressions.
	RoleReporter Role = "reporter"
	// RoleViewer reads: the web UI, tail, logs, status, builders. It may
	// publish nothing but requests for what it reads.
	RoleViewer Role = "viewer"
	// RoleAdmin may do everything, and is the only role that creates or
	// updates streams, buckets and the shared consumers (Ensure).
	RoleAdmin Role = "admin"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleProducer, RoleBuilder, RoleUploader, RoleReporter, RoleViewer, RoleAdmin}

// ParseRole returns the role named s, or an error listing the valid ones.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles, Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("role %q: want one of %v", s, Roles)
}

// A deployment may give each builder host a NATS user of its own
// (`auth init --builders`), named BuilderUser(host), with the builder
// role's rights but inboxes no other builder can subscribe to: a pull
// fetch delivers the job, ticket included, to the fetching connection's
// inbox, and with one shared user every builder could read every job any
// builder fetches.

// builderUserPrefix starts the name of a builder host's own user.
const builderUserPrefix = string(RoleBuilder) + "-"

// BuilderUser is the NATS user of builder host name (ValidateBuilderName).
func BuilderUser(name string) string { return builderUserPrefix + name }

// ValidateBuilderName checks a builder host's name for its user: 1 to 64
// of a-z, 0-9 and '-', so that it is one subject token and a file name.
func ValidateBuilderName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("builder name %s: want 1 to 64 characters", Bounded(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("builder name %s: want only a-z, 0-9 and '-'", Bounded(name))
		}
	}
	return nil
}

// UserRole is the role of a NATS user made by `auth init`: a role's own
// user, named after it, or a builder host's (BuilderUser).
func UserRole(user string) (Role, error) {
	if name, ok := strings.CutPrefix(user, builderUserPrefix); ok {
		if err := ValidateBuilderName(name); err != nil {
			return "", fmt.Errorf("user %s: %w", Bounded(user), err)
		}
		return RoleBuilder, nil
	}
	return ParseRole(user)
}

// UserInboxPrefix is where user's connections receive replies (see
// InboxPrefix).
func UserInboxPrefix(user string) string { return "_INBOX_" + user }

// Permissions are the subjects a role may publish to and subscribe to, in
// nats-server's allow-list syntax. Everything else is denied by the server.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// jsAPI is the prefix of the JetStream API subjects a role needs.
const jsAPI = "$JS.API."

// InboxPrefix is where role's connections receive replies: the server
// answers every request (JetStream API calls, KV reads, acks of publishes)
// on the requester's inbox, and ordered consumers deliver there. Each role
// subscribes to its own prefix only, so that no role can read the replies
// another role gets (as it could if every role could subscribe to
// "_INBOX.>"). The stock nats CLI takes it as --inbox-prefix.
func InboxPrefix(role Role) string { return UserInboxPrefix(string(role)) }

func streamInfo(stream string) string { return jsAPI + "STREAM.INFO." + stream }

// msgGet covers both ways a single message is read: the stream's MSG.GET
// request and, for streams (KV buckets) that allow it, DIRECT.GET.
func msgGet(stream string) []string {
	return []string{jsAPI + "STREAM.MSG.GET." + stream, jsAPI + "DIRECT.GET." + stream, jsAPI + "DIRECT.GET." + stream + ".>"}
}

// pullFrom is what a worker bound to consumer (a name or "*") of stream
// needs: look it up, fetch, and ack/nak/in-progress/term its messages.
// Acks go to $JS.ACK.<stream>.<consumer>... (9 tokens) and, on newer
// servers, to $JS.ACK.<domain>.<account hash>.<stream>.<consumer>... (11
// tokens or more). The server reads a 9-token ack subject in the old form
// whatever its pattern: the new form's is held to 11 tokens or more, or
// "$JS.ACK.<other stream>.<other consumer>.<stream>.<consumer>.<sseq>..."
// would ack another stream's consumer.
func pullFrom(stream, consumer string) []string {
	v2 := "$JS.ACK.*.*." + stream + "." + consumer + ".*.*.*.*.*"
	return []string{
		jsAPI + "CONSUMER.INFO." + stream + "." + consumer,
		jsAPI + "CONSUMER.MSG.NEXT." + stream + "." + consumer,
		"$JS.ACK." + stream + "." + consumer + ".>",
		v2, v2 + ".>",
	}
}

// readStream is what replaying or tailing a stream with ephemeral ordered
// consumers (AckNone) needs: stream info, single-message reads, and
// creating, fetching from, inspecting and deleting its own consumers.
// Without acks nothing read this way can remove a message.
func readStream(stream string) []string {
	return append([]string{
		streamInfo(stream),
		jsAPI + "CONSUMER.CREATE." + stream + ".>",
		jsAPI + "CONSUMER.MSG.NEXT." + stream + ".>",
		jsAPI + "CONSUMER.INFO." + stream + ".>",
		jsAPI + "CONSUMER.DELETE." + stream + ".>",
		// Ordered push consumers (KV watches) answer flow control here.
		"$JS.FC." + stream + ".>",
	}, msgGet(stream)...)
}

// kvStream is the stream behind a KV bucket.
func kvStream(bucket string) string { return "KV_" + bucket }

// kvRead is what Get, Keys and Watch on bucket need.
func kvRead(bucket string) []string { return readStream(kvStream(bucket)) }

// kvWrite is what Put, Create, Update and Delete on bucket need, besides
// kvRead: the bucket's subjects (the server acks on the writer's inbox).
func kvWrite(bucket string) []string {
	return append(kvRead(bucket), "$KV."+bucket+".>")
}

// kvWriteKeys is what Put of keys of bucket needs, besides kvRead.
func kvWriteKeys(bucket string, keys ...string) []string {
	pub := kvRead(bucket)
	for _, k := range keys {
		pub = append(pub, "$KV."+bucket+"."+k)
	}
	return pub
}

// lookup is what every role needs to check at start-up that the streams
// and buckets it uses exist (Lookup).
func lookup() []string {
	var subs []string
	for _, s := range allStreams {
		subs = append(subs, streamInfo(s))
	}
	for _, b := range allBuckets {
		subs = append(subs, streamInfo(kvStream(b)))
	}
	return subs
}

var (
	allStreams = []string{JobsStream, LogsStream, UploadsStream, ResultsStream, DeadStream}
	allBuckets = []string{ExperimentsBucket, BuildersBucket, ProgressBucket, EndpointsBucket}
)

// deadUnder is the dead subjects user may publish on: its own, of every
// experiment (DeadSubject).
func deadUnder(user string) string { return deadPrefix + ".*." + user }

// RolePermissions returns what role may do. The lists are derived from the
// names in this package, so a new subject or stream changes them here too.
func RolePermissions(role Role) (Permissions, error) {
	return rolePermissions(role, string(role), InboxPrefix(role))
}

// UserPermissions is what NATS user may do: its role's permissions
// (UserRole), with replies on the user's own inbox prefix.
func UserPermissions(user string) (Permissions, error) {
	role, err := UserRole(user)
	if err != nil {
		return Permissions{}, err
	}
	return rolePermissions(role, user, UserInboxPrefix(user))
}

func rolePermissions(role Role, user, inbox string) (Permissions, error) {
	var pub []string
	sub := []string{inbox + ".>"}
	switch role {
	case RoleAdmin:
		return Permissions{Publish: []string{">"}, Subscribe: []string{">"}}, nil
	case RoleProducer:
		pub = append(pub, jobsPrefix+".>")
		pub = append(pub, kvWrite(ExperimentsBucket)...)
		pub = append(pub, kvRead(ProgressBucket)...)
		// It checks that live builders have the experiment's toolchains.
		pub = append(pub, kvRead(BuildersBucket)...)
		// retry --regressed reads the report in the store it finds here.
		pub = append(pub, kvRead(EndpointsBucket)...)
		// The producer creates the consumers builders take an experiment's
		// jobs from (one per experiment and toolchain), and removes them.
		pub = append(pub,
			streamInfo(JobsStream),
			jsAPI+"CONSUMER.CREATE."+JobsStream+".>",
			jsAPI+"CONSUMER.DURABLE.CREATE."+JobsStream+".>",
			jsAPI+"CONSUMER.INFO."+JobsStream+".>",
			jsAPI+"CONSUMER.DELETE."+JobsStream+".>",
			jsAPI+"CONSUMER.LIST."+JobsStream,
			jsAPI+"CONSUMER.NAMES."+JobsStream,
		)
		pub = append(pub, msgGet(JobsStream)...)
		pub = append(pub, streamInfo(ResultsStream), streamInfo(LogsStream), streamInfo(DeadStream))
	case RoleBuilder:
		pub = append(pub, logsPrefix+".>", uploadsPrefix+".>", deadUnder(user))
		// Results only under its own name (ResultSubject): the reporter
		// tells which builder each came from.
		pub = append(pub, resultsPrefix+".*.*.*.*.*."+user)
		// Any consumer of the jobs stream: there is one per experiment and
		// toolchain, made by the producer; the builder only binds to them.
		pub = append(pub, pullFrom(JobsStream, "*")...)
		pub = append(pub, jsAPI+"CONSUMER.LIST."+JobsStream, jsAPI+"CONSUMER.NAMES."+JobsStream)
		// Its heartbeats only under its own name (HeartbeatKey).
		pub = append(pub, kvWriteKeys(BuildersBucket, HeartbeatKey(user, "*"))...)
		pub = append(pub, kvRead(ExperimentsBucket)...)
		// A chunk whose publish failed is sent again in order: the chunks
		// after it are read back and deleted first.
		pub = append(pub, msgGet(LogsStream)...)
		pub = append(pub, streamInfo(LogsStream), jsAPI+"STREAM.MSG.DELETE."+LogsStream)
		// New jobs wake idle builders up: a core subscription to the
		// stream's republished headers. Never to the job subjects, which
		// would deliver every job's body, ticket included, to every
		// builder.
		sub = append(sub, JobsQueuedFilter)
	case RoleUploader:
		// Only uploaders judge a log abandoned; they publish no other
		// upload request.
		pub = append(pub, abandonedPrefix+".>", deadUnder(user))
		// Whether an experiment's upload requests must be signed.
		pub = append(pub, kvRead(ExperimentsBucket)...)
		pub = append(pub, pullFrom(UploadsStream, UploadersConsumer)...)
		pub = append(pub, streamInfo(UploadsStream))
		pub = append(pub, msgGet(UploadsStream)...)
		pub = append(pub, readStream(LogsStream)...)
		// An experiment's no-output timeout says how long its logs may be
		// silent before they are judged abandoned.
		pub = append(pub, kvRead(ExperimentsBucket)...)
		// Chunks of a stored log are purged, and only by uploaders.
		pub = append(pub, jsAPI+"STREAM.PURGE."+LogsStream)
		// Where the logs are stored, for the commands that read them.
		pub = append(pub, kvWriteKeys(EndpointsBucket, EndpointStore)...)
	case RoleReporter:
		// Re-runs that confirm a regression are ordinary jobs, on
		// subjects of their own: it queues no first run.
		pub = append(pub, jobsPrefix+".*.*.*.*."+rerunToken, deadUnder(user))
		pub = append(pub, readStream(ResultsStream)...)
		// Refused results are deleted once dead-lettered: left there they
		// fill the attempt's subject and the genuine result is refused.
		pub = append(pub, jsAPI+"STREAM.MSG.DELETE."+ResultsStream)
		pub = append(pub, streamInfo(JobsStream))
		pub = append(pub, msgGet(JobsStream)...)
		pub = append(pub, kvRead(ExperimentsBucket)...)
		pub = append(pub, kvWrite(ProgressBucket)...)
		// Where the reports are, and the web UI that shows them.
		pub = append(pub, kvWriteKeys(EndpointsBucket, EndpointStore, EndpointWeb)...)
	case RoleViewer:
		for _, s := range allStreams {
			if s == JobsStream {
				// Stream info only (how many jobs wait, on which
				// subjects): a consumer could take jobs away from the
				// builders, and a job's body holds its ticket.
				pub = append(pub, streamInfo(s))
				continue
			}
			if s == UploadsStream {
				// A work queue: stream info and single requests; a
				// consumer could take requests away from the uploaders.
				pub = append(pub, streamInfo(s))
				pub = append(pub, msgGet(s)...)
				continue
			}
			pub = append(pub, readStream(s)...)
		}
		for _, b := range allBuckets {
			pub = append(pub, kvRead(b)...)
		}
		// Live logs with the stock CLI: nats sub 'ejecta.logs.>'.
		sub = append(sub, logsPrefix+".>")
	default:
		return Permissions{}, fmt.Errorf("role %q: want one of %v", role, Roles)
	}
	pub = append(pub, lookup()...)
	slices.Sort(pub)
	return Permissions{Publish: slices.Compact(pub), Subscribe: sub}, nil
}
