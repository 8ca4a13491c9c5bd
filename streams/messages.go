package streams

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is the version of every JSON message type below. A consumer
// refuses a message with another version instead of guessing its meaning.
const SchemaVersion = 1

// ErrSchemaVersion marks a message whose "v" this build does not understand.
var ErrSchemaVersion = errors.New("unsupported schema version")

// Mode is what is done with each crate, as in crater.
type Mode string

// The modes builders implement: crater's, plus miri (as crater-at-home runs it).
const (
	ModeBuildAndTest Mode = "build-and-test"
	ModeBuildOnly    Mode = "build-only"
	ModeCheckOnly    Mode = "check-only"
	// ModeClippy lints with cargo clippy; a denied lint is a build failure.
	ModeClippy Mode = "clippy"
	// ModeRustdoc documents the crate (cargo doc --no-deps).
	ModeRustdoc Mode = "rustdoc"
	// ModeUnstableFeatures lists the #![feature(...)]s the crate's sources use.
	ModeUnstableFeatures Mode = "unstable-features"
	// ModeFix applies the compiler's suggestions (cargo fix) and checks the result compiles.
	ModeFix Mode = "fix"
	// ModeMiri runs the crate's tests under Miri; needs the toolchain's miri component.
	ModeMiri Mode = "miri"
)

// Modes lists the accepted modes, in the order help texts show them.
var Modes = []Mode{ModeBuildAndTest, ModeBuildOnly, ModeCheckOnly, ModeClippy, ModeRustdoc,
	ModeUnstableFeatures, ModeFix, ModeMiri}

// ParseMode returns the mode named s or an error listing the accepted ones.
func ParseMode(s string) (Mode, error) {
	if slices.Contains(Modes, Mode(s)) {
		return Mode(s), nil
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown mode %s (accepted: %s)", Bounded(s), strings.Join(names, ", "))
}

// CapLints values accepted by rustc's --cap-lints (empty: not passed).
var CapLints = []string{"forbid", "deny", "warn", "allow"}

// Status is the result of one attempt (crater's TestResult).
type Status string

// Statuses, as crater names them.
const (
	StatusBroken      Status = "broken"
	StatusPrepareFail Status = "prepare-fail"
	StatusBuildFail   Status = "build-fail"
	StatusTestFail    Status = "test-fail"
	StatusTestSkipped Status = "test-skipped"
	StatusTestPass    Status = "test-pass"
	StatusSkipped     Status = "skipped"
	StatusError       Status = "error"
)

// Statuses lists every status.
var Statuses = []Status{StatusBroken, StatusPrepareFail, StatusBuildFail, StatusTestFail,
	StatusTestSkipped, StatusTestPass, StatusSkipped, StatusError}

// Names (experiments, crates, builders, toolchains) are tokens: 1 to max
// ASCII letters and digits, and after the first also some punctuation.
// Every message names several and every component checks them, so they are
// matched by isToken rather than by a regexp each (tokens_test.go checks
// it against the regexps it replaced).
const (
	// expNameMax and the others are the longest names allowed.
	expNameMax   = 64
	crateNameMax = 64
	builderIDMax = 64
	// A toolchain name is a rustup one (stable, nightly-2026-01-01,
	// 1.80.0, beta-x86_64-unknown-linux-gnu), but nothing a shell or a path
	// could misread.
	toolchainMax = 128
)

// isToken reports whether s is 1 to max bytes of ASCII letters (lower-case
// only when lower is set) and digits, the bytes after the first also of
// extra.
func isToken(s string, max int, lower bool, extra string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' && !lower:
		case i > 0 && strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

var (
	// toolchainPathRE accepts a custom toolchain's directory (what rustup
	// takes as +/path): absolute, of the same quiet characters; see
	// ValidateToolchain for the segments.
	toolchainPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._+-]+){1,32}$`)
	versionRE       = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
)

// ValidateExperimentName checks an experiment name: it is a KV key, a subject
// token and an object prefix, so it is kept to [a-z0-9_-].
func ValidateExperimentName(s string) error {
	if !isToken(s, expNameMax, true, "_-") {
		return fmt.Errorf("experiment name %s: want 1-64 characters of a-z, 0-9, '_' or '-', starting with a letter or digit", Bounded(s))
	}
	return nil
}

// ValidateCrateName checks a crate name as crates.io allows them.
func ValidateCrateName(s string) error {
	if !isToken(s, crateNameMax, false, "_-") {
		return fmt.Errorf("crate name %s: want 1-64 characters of A-Z, a-z, 0-9, '_' or '-', starting with a letter or digit", Bounded(s))
	}
	return nil
}

// ValidateVersion checks a semver version (x.y.z with optional pre-release/build).
func ValidateVersion(s string) error {
	if !versionRE.MatchString(s) {
		return fmt.Errorf("version %s: want a semver version such as 1.2.3", Bounded(s))
	}
	return nil
}

// ValidateToolchain checks a toolchain: a rustup toolchain name, or the
// absolute path of a toolchain directory (rustup's custom toolchains, as
// in cargo +/opt/rust/stage2). Either is escaped wherever it becomes a
// subject token or an object key.
func ValidateToolchain(s string) error {
	if IsToolchainPath(s) {
		if len(s) > 255 || !toolchainPathRE.MatchString(s) || path.Clean(s) != s {
			return fmt.Errorf("toolchain path %s: want an absolute directory of A-Z, a-z, 0-9, '.', '_', '+' or '-', with no '.' or '..' segment, at most 255 bytes", Bounded(s))
		}
		return nil
	}
	if !isToken(s, toolchainMax, false, "._-") {
		return fmt.Errorf("toolchain %s: want a rustup toolchain name such as stable, nightly or 1.80.0, or the absolute path of a toolchain directory", Bounded(s))
	}
	return nil
}

// IsToolchainPath reports whether toolchain tc is a directory rather than a
// rustup toolchain name.
func IsToolchainPath(tc string) bool { return strings.HasPrefix(tc, "/") }

// ValidateBuilderID checks a builder id (a KV key and container-name part).
func ValidateBuilderID(s string) error {
	if !isToken(s, builderIDMax, false, "_-") {
		return fmt.Errorf("builder id %s: want 1-64 characters of A-Z, a-z, 0-9, '_' or '-'", Bounded(s))
	}
	return nil
}

// Experiment is the record kept in ExperimentsBucket under its name.
type Experiment struct {
	V           int       `json:"v"`
	Name        string    `json:"name"`
	Toolchains  []string  `json:"toolchains"`
	Mode        Mode      `json:"mode"`
	CapLints    string    `json:"cap_lints,omitempty"`
	Priority    int       `json:"priority"`
	CrateSource string    `json:"crate_source"`
	Selection   string    `json:"selection"`
	Skip        string    `json:"skip,omitempty"` // exclusions applied to Selection
	Crates      int       `json:"crates"`         // crate versions selected
	Jobs        int       `json:"jobs"`           // Crates × len(Toolchains)
	Published   int       `json:"published"`
	CreatedAt   time.Time `json:"created_at"`
	// Limits override the builders' defaults for every job of the experiment.
	Limits
	// State is empty while the experiment runs, or ExperimentAborted
	// (lifecycle.go).
	State ExperimentState `json:"state,omitempty"`
	// Tickets says the experiment's jobs carry tickets (tickets.go): its
	// results and upload requests must be signed. Experiments created
	// before tickets existed have none, and are taken as they come.
	Tickets bool `json:"tickets,omitempty"`
	// KeepLogs is how long the experiment's stored logs are kept after its
	// last build finished; its report and log archives stay. Zero: the
	// reporter's default (its --keep-logs), which may be forever.
	KeepLogs Duration `json:"keep_logs,omitempty"`
	// Baseline names an earlier experiment whose regressions are known:
	// the report marks a crate that regressed there too. Empty: none.
	Baseline string `json:"baseline,omitempty"`
}

// Bounds of KeepLogs: shorter than a day would remove logs before anyone
// read them.
const (
	MinKeepLogs = 24 * time.Hour
	MaxKeepLogs = 100 * 365 * 24 * time.Hour
)

// ValidateKeepLogs checks a retention for stored logs: 0 (the default) or
// between MinKeepLogs and MaxKeepLogs.
func ValidateKeepLogs(d time.Duration) error {
	if d != 0 && (d < MinKeepLogs || d > MaxKeepLogs) {
		return fmt.Errorf("keep-logs %s: want 0 (the default) or from %s to %s", d, MinKeepLogs, MaxKeepLogs)
	}
	return nil
}

// Validate checks every field and names the first bad one.
func (e *Experiment) Validate() error {
	if e.V != SchemaVersion {
		return fmt.Errorf("experiment: v=%d: %w", e.V, ErrSchemaVersion)
	}
	if err := ValidateExperimentName(e.Name); err != nil {
		return err
	}
	if len(e.Toolchains) != 2 {
		return fmt.Errorf("toolchains: want exactly two, have %d (%q)", len(e.Toolchains), e.Toolchains)
	}
	for _, tc := range e.Toolchains {
		if err := ValidateToolchain(tc); err != nil {
			return fmt.Errorf("toolchains: %w", err)
		}
	}
	if e.Toolchains[0] == e.Toolchains[1] {
		return fmt.Errorf("toolchains: both are %q, want two different toolchains", e.Toolchains[0])
	}
	if _, err := ParseMode(string(e.Mode)); err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	if e.CapLints != "" && !slices.Contains(CapLints, e.CapLints) {
		return fmt.Errorf("cap-lints: unknown level %q (accepted: %s)", e.CapLints, strings.Join(CapLints, ", "))
	}
	if e.Jobs != e.Crates*len(e.Toolchains) {
		return fmt.Errorf("jobs: %d, want crates × toolchains = %d", e.Jobs, e.Crates*len(e.Toolchains))
	}
	if err := e.Limits.Validate(); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	if err := e.State.Validate(); err != nil {
		return err
	}
	if err := ValidateKeepLogs(e.KeepLogs.D()); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	if e.Baseline != "" {
		if err := ValidateExperimentName(e.Baseline); err != nil {
			return fmt.Errorf("experiment: baseline: %w", err)
		}
		if e.Baseline == e.Name {
			return fmt.Errorf("experiment: baseline %q: the experiment itself", e.Baseline)
		}
	}
	return nil
}

// Job asks a builder to build one crate version with one toolchain.
type Job struct {
	V int `json:"v"`
	BuildKey
	Mode     Mode   `json:"mode"`
	CapLints string `json:"cap_lints,omitempty"`
	// CrateSource is a directory source or a sparse registry
	// (ValidateCrateSource).
	CrateSource string `json:"crate_source"`
	// Limits are the experiment's; zero fields take the builder's defaults.
	Limits
	// AttemptBase is added to the delivery count to number attempts: 0 for
	// a build's first run, RerunAttemptBase(r) for confirmation re-run r.
	AttemptBase int `json:"attempt_base,omitempty"`
	// Ticket is what the builder signs the job's result and upload
	// request with (JobKey.SignJob); empty when the publisher had no key.
	// It travels in the body only, never in a header: the jobs stream
	// republishes headers to every builder (JobsQueuedFilter).
	Ticket string `json:"ticket,omitempty"`
}

// Validate checks every field and names the first bad one.
func (j *Job) Validate() error {
	if j.V != SchemaVersion {
		return fmt.Errorf("job: v=%d: %w", j.V, ErrSchemaVersion)
	}
	if err := ValidateExperimentName(j.Experiment); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := ValidateCrateName(j.Crate); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := ValidateVersion(j.Version); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := ValidateToolchain(j.Toolchain); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if _, err := ParseMode(string(j.Mode)); err != nil {
		return fmt.Errorf("job: mode: %w", err)
	}
	if j.CapLints != "" && !slices.Contains(CapLints, j.CapLints) {
		return fmt.Errorf("job: cap_lints: unknown level %q", j.CapLints)
	}
	if err := ValidateCrateSource(j.CrateSource); err != nil {
		return fmt.Errorf("job: crate_source: %w", err)
	}
	if err := j.Limits.Validate(); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := validateAttemptBase(j.AttemptBase); err != nil {
		return err
	}
	return validateSigned("job: ticket", j.Ticket)
}

// Result is the outcome of one attempt of one build.
type Result struct {
	V int `json:"v"`
	BuildKey
	Attempt  int    `json:"attempt"`
	Status   Status `json:"status"`
	Reason   Reason `json:"reason,omitempty"` // ParseReason's rules
	ExitCode int    `json:"exit_code"`
	// DurationMS is the wall time of the whole attempt, prepare included.
	DurationMS int64     `json:"duration_ms"`
	Builder    string    `json:"builder"`
	LogKey     string    `json:"log_key"` // LogObjectKey, relative to the experiment prefix
	FinishedAt time.Time `json:"finished_at"`
	// SharedTarget says the attempt built in its builder slot's shared
	// cargo target dir, which earlier jobs' build scripts could write to,
	// rather than in a clean one of its own. A confirmation re-run never
	// does (Validate): its verdict must not rest on what other crates left.
	SharedTarget bool `json:"shared_target,omitempty"`
	// FirstError is the first error the failed build printed, when the
	// builder saw one.
	FirstError *FirstError `json:"first_error,omitempty"`
	// MAC signs the result with the job's ticket (Result.Sign); empty for
	// a job without one.
	MAC string `json:"mac,omitempty"`
	// Sender is the NATS user the result came from, which its subject
	// names (ParseResultSubject): set by the reader, never sent, so that
	// the body cannot claim another builder's name.
	Sender string `json:"-"`
}

// Validate checks every field and names the first bad one. Every field is
// bounded: a builder credential can publish any result, and the reporter
// may hold one for a while before it can tell (a result waiting for its
// experiment's record).
func (r *Result) Validate() error {
	if err := r.validateRun(); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if err := ValidateBuilderID(r.Builder); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	// The log a report links is the attempt's own, where builders store
	// it; empty when there is none.
	if want := LogObjectKey(r.BuildKey, r.Attempt); r.LogKey != "" && r.LogKey != want {
		return fmt.Errorf("result: log_key %s: want %q or none", Bounded(r.LogKey), want)
	}
	if r.SharedTarget && AttemptRound(r.Attempt) > 0 {
		return fmt.Errorf("result: shared_target: attempt %d is a confirmation re-run, which builds in a clean target", r.Attempt)
	}
	if r.FirstError != nil {
		if err := r.FirstError.Validate(); err != nil {
			return fmt.Errorf("result: %w", err)
		}
	}
	return validateSigned("result: mac", r.MAC)
}

// validateRun checks what a result and an upload request both say: the
// build, the attempt, its status and reason.
func (r *Result) validateRun() error {
	if r.V != SchemaVersion {
		return fmt.Errorf("v=%d: %w", r.V, ErrSchemaVersion)
	}
	j := Job{V: SchemaVersion, BuildKey: r.BuildKey, Mode: ModeCheckOnly, CrateSource: "/"}
	if err := j.Validate(); err != nil {
		return err
	}
	if r.Attempt < 1 {
		return fmt.Errorf("attempt %d: want >= 1", r.Attempt)
	}
	if !slices.Contains(Statuses, r.Status) {
		return fmt.Errorf("unknown status %q", r.Status)
	}
	if _, err := ParseReason(string(r.Reason)); err != nil {
		return err
	}
	return nil
}

// LogEnd closes a log: what a reader must have seen to hold it complete.
type LogEnd struct {
	Status   Status `json:"status"`
	ExitCode int    `json:"exit_code"`
	Chunks   uint64 `json:"chunks"` // data chunks before the end marker
	Bytes    uint64 `json:"bytes"`
	SHA256   string `json:"sha256"`
	// Reason is the failure reason of the attempt, if it has one.
	Reason Reason `json:"reason,omitempty"`
}

// UploadRequest says that the log of one attempt is complete on LogsStream
// and should be stored. Uploaders share these through UploadersConsumer.
type UploadRequest struct {
	V int `json:"v"`
	BuildKey
	Attempt int    `json:"attempt"`
	End     LogEnd `json:"end"`
	// MAC signs the request with the job's ticket (UploadRequest.Sign);
	// empty for a job without one, and for an abandoned log's request,
	// which only uploaders may publish (AbandonedUploadSubject).
	MAC string `json:"mac,omitempty"`
}

// Validate checks every field and names the first bad one.
func (u *UploadRequest) Validate() error {
	if u.V != SchemaVersion {
		return fmt.Errorf("upload request: v=%d: %w", u.V, ErrSchemaVersion)
	}
	r := Result{V: SchemaVersion, BuildKey: u.BuildKey, Attempt: u.Attempt, Status: StatusError, Reason: u.End.Reason}
	if err := r.validateRun(); err != nil {
		return fmt.Errorf("upload request: result: %w", err)
	}
	return validateSigned("upload request: mac", u.MAC)
}

// Heartbeat is what a builder keeps in BuildersBucket under its
// HeartbeatKey.
type Heartbeat struct {
	V          int            `json:"v"`
	ID         string         `json:"id"`
	Host       string         `json:"host"`
	Slots      int            `json:"slots"`
	Running    []RunningBuild `json:"running"`
	Toolchains []string       `json:"toolchains,omitempty"`
	Updated    time.Time      `json:"updated"`
	// FreeDiskBytes is what is left on the builder's work dir's disk.
	FreeDiskBytes uint64 `json:"free_disk_bytes,omitempty"`
	// Version is the builder's own version.
	Version string `json:"version,omitempty"`
	// Paused says why the builder takes no new jobs (low disk, draining);
	// empty while it takes jobs.
	Paused string `json:"paused,omitempty"`
	// Sender is the NATS user the heartbeat was written as, read from its
	// key, not from the builder's word ("" for a key without one).
	Sender string `json:"sender,omitempty"`
}

// RunningBuild is one attempt a builder is working on.
type RunningBuild struct {
	BuildKey
	Attempt int       `json:"attempt"`
	Started time.Time `json:"started"`
}

// Progress is the reporter's summary of one experiment, kept in ProgressBucket.
type Progress struct {
	V          int            `json:"v"`
	Experiment string         `json:"experiment"`
	Done       int            `json:"done"`     // builds with a result
	Statuses   map[Status]int `json:"statuses"` // latest attempt per build
	Classes    map[string]int `json:"classes"`  // comparison per crate, both toolchains done
	Updated    time.Time      `json:"updated"`
	// Total, RatePerMinute and ETASeconds are the figures of results.json.
	Total         int     `json:"total,omitempty"`
	RatePerMinute float64 `json:"rate_per_minute,omitempty"`
	ETASeconds    int64   `json:"eta_seconds,omitempty"`
	// Confirming counts crates waiting for their confirmation re-runs
	// (regressions, and what came from a shared target).
	Confirming int `json:"confirming,omitempty"`
	// ToolchainsDone is Done by toolchain.
	ToolchainsDone map[string]int `json:"toolchains_done,omitempty"`
	// ResultsUpdated is the time in the experiment's results.json as last
	// stored: a large experiment's is rewritten less often than this
	// entry (reporter/whole.go), and a reader that keeps what it read of
	// the file knows from it whether the file changed. Zero: none yet.
	ResultsUpdated time.Time `json:"results_updated,omitzero"`
}

// Decode unmarshals data into v (a pointer to one of the message types) and
// validates it. Unknown fields are refused so that a typo in a hand-written
// message is an error, not a silently ignored field; so is anything but
// white space after the JSON value. A Decoder does the same for many
// messages at a lower cost.
func Decode[T interface{ Validate() error }](data []byte, v T) error {
	var d Decoder
	return d.Decode(data, v)
}

// boundedLen is how much of a bad value an error message quotes.
const boundedLen = 64

// Bounded returns s quoted for an error message, like %q, cut to its
// first boundedLen bytes and followed by its length when longer: all of a
// 1 MB crate name would only bury what was wrong with it.
func Bounded(s string) string {
	if len(s) <= boundedLen {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:boundedLen], len(s))
}
