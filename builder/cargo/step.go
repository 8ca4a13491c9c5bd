package cargo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/streams"
)

// outcome is what one sandbox task did.
type outcome struct {
	exit sandbox.Exit
	err  error // the sandbox failed, or ctx ended
	diag *diagnostics
}

// step runs `cargo +<toolchain> args...` in dir inside the sandbox, its
// output streaming into the log and past the diagnostics. It runs crate
// code (build scripts, proc macros, tests): from now on the job dir is
// hostile (see workspace.Workspace).
func (b *Build) step(ctx context.Context, dir string, args ...string) outcome {
	b.ws.MarkHostile()
	return b.runStep(ctx, dir, false, args...)
}

// errNetworkAfterCrateCode refuses a step with the network once crate
// code ran in the job dir: cargo would read whatever config a build
// script planted there, and run the programs it names, on the network.
var errNetworkAfterCrateCode = errors.New("builder error: a step with the network after crate code ran")

// resolveStep runs `cargo generate-lockfile` in dir, which runs no code
// of any crate. Only it may have the network (network: resolving against
// a remote registry), and only before any step ran crate code.
func (b *Build) resolveStep(ctx context.Context, dir string, network bool) outcome {
	if network && b.ws.Hostile() {
		fmt.Fprintf(b.Log.System, "%v\n", errNetworkAfterCrateCode)
		return outcome{err: errNetworkAfterCrateCode, diag: newDiagnostics()}
	}
	if network {
		return b.runStep(ctx, dir, true, "generate-lockfile")
	}
	return b.runStep(ctx, dir, false, "generate-lockfile", "--offline")
}

// errNotRun marks a probe the sandbox could not run (containerd
// restarting, a shim dying): it says nothing about the toolchain.
var errNotRun = errors.New("not run")

// maxProbeOutput bounds what probe keeps of a program's output.
const maxProbeOutput = 64 << 10

// Probe runs one of the toolchain's programs (rustc -vV) in the sandbox as
// the slot's user, outside the job dir (it may run before there is one),
// and returns its standard output. A non-zero exit is an error carrying
// what it printed on stderr.
func (b *Build) Probe(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxProbeOutput, maxProbeOutput
	t := sandbox.Task{
		ID:   b.TaskID(),
		Args: args,
		Env: []string{
			"PATH=" + filepath.Dir(b.Host.CargoPath) + ":/usr/local/bin:/usr/bin:/bin",
			"RUSTUP_HOME=" + b.Host.RustupHome,
			"RUSTUP_AUTO_INSTALL=0",
		},
		Dir:          "/",
		ReadOnlyDirs: b.ReadOnly,
		UID:          b.User,
		GID:          b.User,
		MemoryBytes:  b.Limits.MemoryBytes,
		CPUs:         b.CPUs,
		PidsLimit:    b.PidsLimit,
		TmpBytes:     b.Limits.TmpBytes,
		Stdout:       &stdout,
		Stderr:       &stderr,
	}
	exit, err := b.Tasks.Run(ctx, t)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w", errNotRun, err)
	case exit.Code != 0:
		return stdout.String(), fmt.Errorf("exit code %d: %s", exit.Code, streams.Bounded(strings.TrimSpace(stderr.String())))
	}
	return stdout.String(), nil
}

// cappedBuffer keeps the first max bytes written to it and drops the
// rest, so a program cannot make the builder hold more.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (b *Build) runStep(ctx context.Context, dir string, network bool, args ...string) outcome {
	tc := b.Job.Toolchain
	note := ""
	if network {
		note = "  (with network)"
	}
	// The command is logged as a person would type it to see the output
	// the log shows: without jsonFormat, whose JSON the log does not show.
	fmt.Fprintf(b.Log.System, "$ cargo +%s %s%s\n", tc, strings.Join(args, " "), note)
	diag := newDiagnostics()
	diag.remote = network
	diag.resolving = args[0] == "generate-lockfile"
	diag.json = jsonSubcommands[args[0]]
	if diag.json {
		args = append([]string{args[0], jsonFormat}, args[1:]...)
	}
	stdout, stderr := newStepOutput(b.Log, diag, diag.json)
	t := sandbox.Task{
		ID:           b.TaskID(),
		Args:         append([]string{b.Host.CargoPath, "+" + tc}, args...),
		Env:          b.env,
		Dir:          dir,
		WritableDirs: b.writable(),
		ReadOnlyDirs: b.ReadOnly,
		UID:          b.User,
		GID:          b.User,
		MemoryBytes:  b.Limits.MemoryBytes,
		CPUs:         b.CPUs,
		PidsLimit:    b.PidsLimit,
		TmpBytes:     b.Limits.TmpBytes,
		Network:      network,
		Stdout:       stdout,
		Stderr:       stderr,
	}
	b.Log.TaskStarted()
	exit, err := b.Tasks.Run(ctx, t)
	b.Log.TaskEnded()
	if b.StepTimed != nil {
		b.StepTimed(args[0], exit.Steps)
	}
	if err == nil {
		b.exitCode = exit.Code
	} else {
		b.exitCode = -1
	}
	return outcome{exit: exit, err: err, diag: diag}
}

// failure says whether a step failed and, if so, the verdict: failStatus
// with the reason found, or error when the sandbox itself failed. ctx is
// the one the step ran under.
func (b *Build) failure(ctx context.Context, o outcome, failStatus streams.Status) (Verdict, bool) {
	v := Verdict{Status: failStatus, ExitCode: b.exitCode}
	switch {
	case o.err != nil && errors.Is(context.Cause(ctx), ErrTimeout):
		fmt.Fprintf(b.Log.System, "timed out after %s; the build was killed\n", b.Limits.Timeout)
		v.Reason = streams.ReasonTimeout
	case o.err != nil && errors.Is(context.Cause(ctx), ErrDiskQuota):
		// The attempt's quota watch said so in the log.
		v.Reason = streams.ReasonNoSpace
	case o.err != nil && errors.Is(context.Cause(ctx), ErrNoOutput):
		fmt.Fprintf(b.Log.System, "no output for %s; the build was killed\n", b.Limits.NoOutput)
		v.Reason = streams.ReasonNoOutputTimeout
	case o.err != nil && ctx.Err() != nil:
		v.Abandoned = true
	case o.err != nil:
		b.Logger.Error().Err(o.err).Msg("sandbox failed")
		fmt.Fprintf(b.Log.System, "sandbox error: %v\n", o.err)
		v.Status, v.Reason = streams.StatusError, streams.ReasonSandboxError
	case o.exit.Code == 0:
		// A child may have been OOM-killed and survived by cargo (a build
		// script retried); the step still succeeded.
		return Verdict{}, false
	case o.exit.OOMKilled:
		fmt.Fprintf(b.Log.System, "killed: out of memory (limit %d MiB)\n", b.Limits.MemoryBytes>>20)
		v.Reason = streams.ReasonOOM
	case o.diag.sourceUnreadable():
		return b.sourceUnreadable(fmt.Errorf("cargo could not read it (see above)")), true
	case o.diag.toolchainMissing():
		fmt.Fprintf(b.Log.System, "toolchain %s is not installed on this builder\n", b.Job.Toolchain)
		v.Status, v.Reason = streams.StatusError, streams.ReasonToolchainMissing
	case o.diag.missingComponent() != "":
		return b.componentMissing(o.diag.missingComponent()), true
	case o.diag.registryUnreachable():
		fmt.Fprintf(b.Log.System, "the registry %s could not be read\n", b.Job.CrateSource)
		v.Status, v.Reason = streams.StatusPrepareFail, streams.ReasonDownloadFailed
	default:
		v.Reason = o.diag.reason(b.Job.Crate)
		v.FirstError = o.diag.firstError()
	}
	return v, true
}
