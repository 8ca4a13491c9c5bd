package cargo

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/registry"
	"github.com/ejecta-build/ejecta/streams"
)

// Build is one attempt's build of its job: the steps its mode takes, as
// crater takes them, each a cargo run in the sandbox, and the verdict read
// from their output. The attempt (builder/doc.go) fills it in, creates the
// job dir and hands it to Steps.
type Build struct {
	Job   *streams.Job
	Tasks Runner
	Host  Host
	// User is the slot's build user (and group); CPUs its CPU.
	User      uint32
	CPUs      string
	PidsLimit int64
	Limits    Limits
	// ReadOnly are the host directories the build reads (ReadOnlyDirs);
	// Hidden are the host paths the sandbox hides from it.
	ReadOnly []string
	Hidden   []string
	// SharedTarget, when set, is the slot's shared target dir for the
	// job's toolchain (workspace.SharedTarget): the build's
	// CARGO_TARGET_DIR, bound writable into every step beside the job dir.
	// Empty: the job dir's own target.
	SharedTarget string
	// TaskID names each new sandbox task.
	TaskID     func() string
	Registries Registries
	Log        Log
	Logger     zerolog.Logger
	// StepTimed, when set, is told how long each step's sandbox and
	// process took, by the step's cargo subcommand (generate-lockfile,
	// check, test, ...).
	StepTimed func(step string, took sandbox.Steps)

	ws       *workspace.Workspace
	env      []string
	exitCode int // of the last step run
}

// Runner runs one task in the sandbox (*sandbox.Containerd does). When ctx
// ends the task is killed and the error wraps ctx.Err(); any other error
// means the sandbox itself failed.
type Runner interface {
	Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error)
}

// Host is the builder's cargo (rustup's proxy) and rustup home, which
// builds use read-only.
type Host struct {
	CargoPath, RustupHome string
}

// Limits are what one attempt runs under: the job's own, where its
// experiment set them, else the builder's defaults.
type Limits struct {
	MemoryBytes, TmpBytes int64
	Timeout, NoOutput     Duration
}

// Duration is a time.Duration that prints without trailing zero units
// ("5m", not "5m0s") in the log's system lines.
type Duration time.Duration

func (d Duration) String() string {
	s := time.Duration(d).String()
	for _, z := range []string{"0s", "0m"} {
		if len(s) > len(z) && s[len(s)-len(z):] == z && s[len(s)-len(z)-1] >= 'a' {
			s = s[:len(s)-len(z)]
		}
	}
	return s
}

// Log is the attempt's log as its steps write into it.
type Log struct {
	// System takes the builder's own lines.
	System io.Writer
	// Stdout and Stderr take each task's output.
	Stdout, Stderr io.Writer
	// TaskStarted is called as each task starts (the no-output timeout
	// counts from there); TaskEnded once it has exited and its output is
	// all written.
	TaskStarted, TaskEnded func()
	// Line, when set, is the number of the log line the next byte written
	// goes to (buildlog.Chunker.Line): where the first error is found.
	Line func() int
}

// Registries are the clients of the remote registries and the download
// cache a builder keeps for all its slots, for the jobs whose crates come
// from a registry.
type Registries interface {
	Client(source string) (*registry.Client, error)
	Cache() (*registry.Cache, error)
	// Fetched counts a .crate file a job used.
	Fetched(cached bool)
}

// Verdict is how an attempt ended. Abandoned means the builder is
// stopping: nothing is published and the job is left for another builder.
type Verdict struct {
	Status    streams.Status
	Reason    streams.Reason
	ExitCode  int
	Abandoned bool
	// FirstError is the failed step's first error, nil when it printed
	// none or did not fail for the crate's sake.
	FirstError *streams.FirstError
}

// Why the attempt's context was ended by the builder itself, as its
// context.Cause: the build failed for it, it was not abandoned.
var (
	ErrTimeout   = errors.New("attempt timed out")
	ErrNoOutput  = errors.New("no output")
	ErrDiskQuota = errors.New("job dir over its disk quota")
)

// Steps runs the job's steps in ws, the attempt's job dir: the mode's
// rustup components are checked, the crate resolved (prepare), built and
// tested as the mode says. ctx carries the attempt's timeouts.
func (b *Build) Steps(ctx context.Context, ws *workspace.Workspace) Verdict {
	b.ws = ws
	b.env = sandboxEnv(b.Host, ws, b.target(), b.Job.Toolchain, b.Job.CapLints)
	return b.steps(ctx)
}

// target is the build's CARGO_TARGET_DIR.
func (b *Build) target() string {
	if b.SharedTarget != "" {
		return b.SharedTarget
	}
	return b.ws.Target()
}

// writable are the host dirs the steps write to: the job dir, and the
// shared target when the build uses one.
func (b *Build) writable() []string {
	if b.SharedTarget != "" {
		return []string{b.ws.Dir(), b.SharedTarget}
	}
	return []string{b.ws.Dir()}
}

// ExitCode is the exit code of the last step run (-1: it did not end).
func (b *Build) ExitCode() int { return b.exitCode }
