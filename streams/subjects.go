package streams

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Stream, consumer and bucket names. Exported so that operators' tools and
// tests can refer to them; only this package decides them.
const (
	JobsStream    = "EJECTA_JOBS"
	LogsStream    = "EJECTA_LOGS"
	UploadsStream = "EJECTA_UPLOADS"
	ResultsStream = "EJECTA_RESULTS"
	DeadStream    = "EJECTA_DEAD"

	// legacyBuildersConsumer was the one job consumer of every experiment;
	// Ensure removes it (see JobsConsumer for what replaced it).
	legacyBuildersConsumer = "builders"
	// UploadersConsumer is shared by every uploader replica in the same way.
	UploadersConsumer = "uploaders"

	ExperimentsBucket = "ejecta-experiments"
	BuildersBucket    = "ejecta-builders"
	ProgressBucket    = "ejecta-progress"
)

const (
	prefix        = "ejecta"
	jobsPrefix    = prefix + ".jobs"
	logsPrefix    = prefix + ".logs"
	uploadsPrefix = prefix + ".uploads"
	// abandonedPrefix is the uploads stream's other subject: requests to
	// store a log its builder abandoned, which only uploaders may publish.
	abandonedPrefix = prefix + ".uploads-abandoned"
	// queuedPrefix is where the jobs stream republishes the headers of
	// every job it stores, to wake idle builders (see Ensure).
	queuedPrefix   = prefix + ".queued"
	resultsPrefix  = prefix + ".results"
	deadPrefix     = prefix + ".dead"
	invalidExpName = "_invalid" // experiment names start with [a-z0-9], so this cannot collide
)

// BuildKey names one build: a crate version under one toolchain in one
// experiment. Attempts of the same build share the key.
type BuildKey struct {
	Experiment string `json:"experiment"`
	Crate      string `json:"crate"`
	Version    string `json:"version"`
	Toolchain  string `json:"toolchain"`
}

// String is the human spelling used in log lines and error messages.
func (k BuildKey) String() string {
	return fmt.Sprintf("%s/%s@%s/%s", k.Experiment, k.Crate, k.Version, k.Toolchain)
}

func (k BuildKey) tokens() string {
	return EscapeToken(k.Experiment) + "." + EscapeToken(k.Crate) + "." +
		EscapeToken(k.Version) + "." + EscapeToken(k.Toolchain)
}

// JobSubject is where the job for k is published.
func JobSubject(k BuildKey) string { return jobsPrefix + "." + k.tokens() }

// rerunToken ends the subject of a confirmation re-run: a job subject has
// exactly four tokens after the prefix, so a fifth cannot be read as a
// crate, version or toolchain.
const rerunToken = "rerun"

// RerunSubject is where a confirmation re-run of k is queued: in the jobs
// stream beside the first-pass jobs, but taken through consumers of its
// own (RerunsConsumer), which builders try first.
func RerunSubject(k BuildKey) string { return JobSubject(k) + "." + rerunToken }

// LogSubject is where the chunks of one attempt of k are published.
func LogSubject(k BuildKey, attempt int) string {
	return logsPrefix + "." + k.tokens() + "." + strconv.Itoa(attempt)
}

// UploadSubject is where "log complete, please store it" is published.
func UploadSubject(k BuildKey, attempt int) string {
	return uploadsPrefix + "." + k.tokens() + "." + strconv.Itoa(attempt)
}

// AbandonedUploadSubject is where an uploader asks for the log of an
// attempt of k whose builder abandoned it (no end marker) to be stored as
// it is. Only uploaders may publish there: an upload request on
// UploadSubject is never taken as abandoned, whatever its headers say.
func AbandonedUploadSubject(k BuildKey, attempt int) string {
	return abandonedPrefix + "." + k.tokens() + "." + strconv.Itoa(attempt)
}

// ParseUploadSubject returns the build and attempt an upload request's
// subject names, and whether it is AbandonedUploadSubject.
func ParseUploadSubject(subj string) (k BuildKey, attempt int, abandoned bool, err error) {
	if strings.HasPrefix(subj, abandonedPrefix+".") {
		k, attempt, err = parseAttemptSubject(abandonedPrefix, subj)
		return k, attempt, true, err
	}
	k, attempt, err = parseAttemptSubject(uploadsPrefix, subj)
	return k, attempt, false, err
}

// ResultSubject is where sender publishes the result of one attempt of k.
// sender is the NATS user the builder connects as (ResultSender): a
// builder user may publish results only under its own name (see
// RolePermissions), so the subject says which builder a result came from,
// whatever its body claims, and results of one build from two builders
// that disagree can be told apart from a retry (the reporter's disputes).
func ResultSubject(k BuildKey, attempt int, sender string) string {
	return resultsPrefix + "." + k.tokens() + "." + strconv.Itoa(attempt) + "." + sender
}

// AnonymousSender is the sender token of a builder whose NATS user has no
// role of ejecta's (no authentication, a .creds file, an nkey or a token):
// results are then not tied to a builder, and none is disputed.
const AnonymousSender = "anonymous"

// ResultSender is the sender token of a builder connected as user: the
// user's own name when it is one of ejecta's (UserRole), else
// AnonymousSender.
func ResultSender(user string) string {
	if _, err := UserRole(user); err == nil {
		return user
	}
	return AnonymousSender
}

// Sender is the sender token of what a component connected with nc
// publishes under its own name (results, dead letters): ResultSender of
// the user nc authenticates as.
func Sender(nc *nats.Conn) string { return ResultSender(connUser(nc)) }

// connUser is the user nc authenticates as: its user option, or the user
// of a server URL that carries one; "" for none.
func connUser(nc *nats.Conn) string {
	if nc.Opts.User != "" {
		return nc.Opts.User
	}
	for _, s := range append([]string{nc.Opts.Url}, nc.Opts.Servers...) {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			return u.User.Username()
		}
	}
	return ""
}

// HeartbeatKey is where a builder connected as sender (ResultSender)
// keeps its heartbeat of builder id in BuildersBucket: under its user's
// name, the only keys a builder user may write (RolePermissions), so a
// builder's credential cannot overwrite or fake another's heartbeat.
func HeartbeatKey(sender, id string) string { return sender + "." + id }

// ParseHeartbeatKey returns the sender and builder id of a BuildersBucket
// key. A key without a sender is a builder's from before keys had one:
// its sender is "".
func ParseHeartbeatKey(key string) (sender, id string, err error) {
	sender, id, ok := strings.Cut(key, ".")
	if !ok {
		sender, id = "", key
	} else if err := validateSender(sender); err != nil {
		return "", "", fmt.Errorf("heartbeat key %s: %w", Bounded(key), err)
	}
	if err := ValidateBuilderID(id); err != nil {
		return "", "", fmt.Errorf("heartbeat key: %w", err)
	}
	return sender, id, nil
}

// validateSender checks a result subject's sender token.
func validateSender(sender string) error {
	if sender == AnonymousSender {
		return nil
	}
	if _, err := UserRole(sender); err != nil {
		return fmt.Errorf("sender %s: want %s or a user of ejecta's: %w", Bounded(sender), AnonymousSender, err)
	}
	return nil
}

// DeadSubject is where sender (Sender) keeps the poison messages of
// experiment exp: under its own name, the only dead subjects its user may
// publish on (RolePermissions), so that the dead letters say who filed
// them, and a flood by one publisher stays within its own subject's bound
// (DeadMaxPerExperiment) instead of pushing out the others'. An empty exp
// (the message could not even be parsed) uses a reserved token; a sender
// that is not one (validateSender), AnonymousSender.
func DeadSubject(exp, sender string) string {
	if exp == "" || ValidateExperimentName(exp) != nil {
		exp = invalidExpName
	}
	return deadPrefix + "." + exp + "." + deadSender(sender)
}

// deadSender is sender as dead subjects name it: AnonymousSender for one
// that is not a sender (validateSender).
func deadSender(sender string) string {
	if validateSender(sender) != nil {
		return AnonymousSender
	}
	return sender
}

// ExperimentDeadFilters match every dead letter of experiment exp: each
// sender's, and those filed before dead subjects named their sender.
func ExperimentDeadFilters(exp string) []string {
	return []string{deadPrefix + "." + exp + ".*", deadPrefix + "." + exp}
}

// DeadStreamFilter matches every dead letter.
const DeadStreamFilter = deadPrefix + ".>"

// ExperimentLogsFilter matches every log chunk of experiment exp, e.g. for
// `nats sub 'ejecta.logs.<exp>.>'`.
func ExperimentLogsFilter(exp string) string { return logsPrefix + "." + EscapeToken(exp) + ".>" }

// ExperimentJobsFilter matches every queued job of experiment exp.
func ExperimentJobsFilter(exp string) string { return jobsPrefix + "." + EscapeToken(exp) + ".>" }

// ExperimentResultsFilter matches every result of experiment exp.
func ExperimentResultsFilter(exp string) string {
	return resultsPrefix + "." + EscapeToken(exp) + ".>"
}

// ToolchainResultsFilter matches every result of experiment exp built
// with toolchain tc, from any sender (and the sender-less subjects of
// earlier versions).
func ToolchainResultsFilter(exp, tc string) string {
	return resultsPrefix + "." + EscapeToken(exp) + ".*.*." + EscapeToken(tc) + ".>"
}

// AllResultsFilter matches every result of every experiment.
const AllResultsFilter = resultsPrefix + ".>"

// AllUploadsFilter matches every upload request a builder publishes.
const AllUploadsFilter = uploadsPrefix + ".>"

// AllAbandonedUploadsFilter matches every request to store an abandoned log.
const AllAbandonedUploadsFilter = abandonedPrefix + ".>"

// JobsQueuedFilter matches the notices that a job was queued: the jobs
// stream republishes each job's headers there, without its body (Ensure).
// Builders subscribe to it to wake idle slots; they never receive a job's
// body, hence its ticket, except by fetching the job.
const JobsQueuedFilter = queuedPrefix + ".>"

// QueuedConsumer returns the name of the durable consumer that serves the
// job a notice on JobsQueuedFilter announces: its experiment's and
// toolchain's RerunsConsumer or JobsConsumer. ok is false for a subject
// that names no job.
func QueuedConsumer(notice string) (name string, ok bool) {
	rest, ok := strings.CutPrefix(notice, queuedPrefix+".")
	if !ok {
		return "", false
	}
	subj := jobsPrefix + "." + rest
	k, err := ParseJobSubject(subj)
	switch {
	case err != nil:
		return "", false
	case subj == RerunSubject(k):
		return RerunsConsumer(k.Experiment, k.Toolchain), true
	}
	return JobsConsumer(k.Experiment, k.Toolchain), true
}

// ParseLogSubject returns the build and attempt a log subject names.
func ParseLogSubject(subj string) (BuildKey, int, error) {
	return parseAttemptSubject(logsPrefix, subj)
}

func parseAttemptSubject(pfx, subj string) (BuildKey, int, error) {
	rest, ok := strings.CutPrefix(subj, pfx+".")
	if !ok {
		return BuildKey{}, 0, fmt.Errorf("subject %q: not under %s", subj, pfx)
	}
	toks := strings.Split(rest, ".")
	if len(toks) != 5 {
		return BuildKey{}, 0, fmt.Errorf("subject %q: want 5 tokens after %s, have %d", subj, pfx, len(toks))
	}
	var vals [4]string
	for i := range vals {
		v, err := UnescapeToken(toks[i])
		if err != nil {
			return BuildKey{}, 0, fmt.Errorf("subject %q: %w", subj, err)
		}
		vals[i] = v
	}
	attempt, err := strconv.Atoi(toks[4])
	if err != nil || attempt < 1 {
		return BuildKey{}, 0, fmt.Errorf("subject %q: bad attempt %q", subj, toks[4])
	}
	// An attempt no run can have (past the last retry's last re-run) is
	// no build's: no job has a ticket for it, so nothing there can be
	// checked, and nothing there is taken.
	if _, err := AttemptBaseOf(attempt); err != nil {
		return BuildKey{}, 0, fmt.Errorf("subject %q: %w", subj, err)
	}
	return BuildKey{Experiment: vals[0], Crate: vals[1], Version: vals[2], Toolchain: vals[3]}, attempt, nil
}

// LogsPrefix is where, relative to the experiment's prefix, every object
// of its stored logs is (LogObjectKey and its siblings); the log archives
// are not (ArchiveKey).
const LogsPrefix = "logs/"

// LogObjectKey is the object-store key, relative to the experiment's prefix,
// of one attempt's stored log. Only escaped tokens are used, so the key can
// never climb out of its prefix.
func LogObjectKey(k BuildKey, attempt int) string {
	return LogsPrefix + EscapeToken(k.Toolchain) + "/" + EscapeToken(k.Crate) + "/" +
		EscapeToken(k.Version) + "/" + strconv.Itoa(attempt) + ".log"
}

// ExperimentPrefix is the object-store prefix under which everything of
// experiment exp (logs and report) is kept.
func ExperimentPrefix(exp string) string { return EscapeToken(exp) + "/" }
