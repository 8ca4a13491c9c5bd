package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
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

// cpus is the slot's CPU: one per slot, distinct while slots <= CPUs, so
// that parallel builds do not slow each other down unevenly.
func (a *attempt) cpus() string { return strconv.Itoa(a.slot % runtime.NumCPU()) }

// containerPrefix starts every sandbox task ID of builder id.
func containerPrefix(id string) string { return "ejecta-" + id + "-" }

// step runs `cargo +<toolchain> args...` in dir inside the sandbox, its
// output streaming into the log and past the diagnostics. It runs crate
// code (build scripts, proc macros, tests): from now on the job dir is
// hostile (see workspace.Workspace).
func (a *attempt) step(ctx context.Context, dir string, args ...string) outcome {
	a.ws.MarkHostile()
	return a.runStep(ctx, dir, false, args...)
}

// errNetworkAfterCrateCode refuses a step with the network once crate
// code ran in the job dir: cargo would read whatever config a build
// script planted there, and run the programs it names, on the network.
var errNetworkAfterCrateCode = errors.New("builder error: a step with the network after crate code ran")

// resolveStep runs `cargo generate-lockfile` in dir, which runs no code
// of any crate. Only it may have the network (network: resolving against
// a remote registry), and only before any step ran crate code.
func (a *attempt) resolveStep(ctx context.Context, dir string, network bool) outcome {
	if network && a.ws.Hostile() {
		fmt.Fprintf(a.sys, "%v\n", errNetworkAfterCrateCode)
		return outcome{err: errNetworkAfterCrateCode, diag: newDiagnostics()}
	}
	if network {
		return a.runStep(ctx, dir, true, "generate-lockfile")
	}
	return a.runStep(ctx, dir, false, "generate-lockfile", "--offline")
}

// errNotRun marks a probe the sandbox could not run (containerd
// restarting, a shim dying): it says nothing about the toolchain.
var errNotRun = errors.New("not run")

// maxProbeOutput bounds what probe keeps of a program's output.
const maxProbeOutput = 64 << 10

// probe runs one of the toolchain's programs (rustc -vV) in the sandbox as
// the slot's user, outside the job dir (it may run before there is one),
// and returns its standard output. A non-zero exit is an error carrying
// what it printed on stderr.
func (a *attempt) probe(ctx context.Context, args ...string) (string, error) {
	uid := a.b.cfg.buildUser(a.slot)
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxProbeOutput, maxProbeOutput
	t := sandbox.Task{
		ID:   a.taskID(),
		Args: args,
		Env: []string{
			"PATH=" + filepath.Dir(a.b.cfg.CargoPath) + ":/usr/local/bin:/usr/bin:/bin",
			"RUSTUP_HOME=" + a.b.cfg.RustupHome,
			"RUSTUP_AUTO_INSTALL=0",
		},
		Dir:          "/",
		ReadOnlyDirs: a.readOnly,
		UID:          uid,
		GID:          uid,
		MemoryBytes:  a.lim.memoryBytes,
		CPUs:         a.cpus(),
		PidsLimit:    a.b.cfg.PidsLimit,
		TmpBytes:     a.lim.tmpBytes,
		Stdout:       &stdout,
		Stderr:       &stderr,
	}
	exit, err := a.b.run.Run(ctx, t)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w", errNotRun, err)
	case exit.Code != 0:
		return stdout.String(), fmt.Errorf("exit code %d: %s", exit.Code, streams.Bounded(strings.TrimSpace(stderr.String())))
	}
	return stdout.String(), nil
}

// taskID names a new sandbox task of the attempt's slot: unique within the
// builder's life, and recognisable as its own after a crash (isTaskOf).
func (a *attempt) taskID() string {
	return containerPrefix(a.b.cfg.ID) + strconv.Itoa(a.slot) + "-" + strconv.FormatUint(a.b.tasks.Add(1), 10)
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

func (a *attempt) runStep(ctx context.Context, dir string, network bool, args ...string) outcome {
	tc := a.job.Toolchain
	note := ""
	if network {
		note = "  (with network)"
	}
	fmt.Fprintf(a.sys, "$ cargo +%s %s%s\n", tc, strings.Join(args, " "), note)
	diag := newDiagnostics()
	diag.remote = network
	diag.resolving = args[0] == "generate-lockfile"
	uid := a.b.cfg.buildUser(a.slot)
	t := sandbox.Task{
		ID:           a.taskID(),
		Args:         append([]string{a.b.cfg.CargoPath, "+" + tc}, args...),
		Env:          a.env,
		Dir:          dir,
		WritableDirs: []string{a.ws.Dir()},
		ReadOnlyDirs: a.readOnly,
		UID:          uid,
		GID:          uid,
		MemoryBytes:  a.lim.memoryBytes,
		CPUs:         a.cpus(),
		PidsLimit:    a.b.cfg.PidsLimit,
		TmpBytes:     a.lim.tmpBytes,
		Network:      network,
		Stdout:       io.MultiWriter(a.stdout, diag.writer(), a.quiet),
		Stderr:       io.MultiWriter(a.stderr, diag.writer(), a.quiet),
	}
	// The quiet period counts from the task's start, not from the last
	// output of the step before.
	a.quiet.reset()
	exit, err := a.b.run.Run(ctx, t)
	// A failed write stays in the chunker and ends the log with an error.
	_ = a.capped.EndStep()
	a.noteLogBlocked()
	if err == nil {
		a.exitCode = exit.Code
	} else {
		a.exitCode = -1
	}
	return outcome{exit: exit, err: err, diag: diag}
}

// failure says whether a step failed and, if so, the verdict: failStatus
// with the reason found, or error when the sandbox itself failed. ctx is
// the one the step ran under.
func (a *attempt) failure(ctx context.Context, o outcome, failStatus streams.Status) (verdict, bool) {
	v := verdict{status: failStatus, exitCode: a.exitCode}
	switch {
	case o.err != nil && errors.Is(context.Cause(ctx), errAttemptTimeout):
		fmt.Fprintf(a.sys, "timed out after %s; the build was killed\n", a.lim.timeout)
		v.reason = streams.ReasonTimeout
	case o.err != nil && errors.Is(context.Cause(ctx), errDiskQuota):
		// watchQuota said so in the log.
		v.reason = streams.ReasonNoSpace
	case o.err != nil && errors.Is(context.Cause(ctx), errNoOutput):
		fmt.Fprintf(a.sys, "no output for %s; the build was killed\n", a.lim.noOutput)
		v.reason = streams.ReasonNoOutputTimeout
	case o.err != nil && ctx.Err() != nil:
		v.abandoned = true
	case o.err != nil:
		a.log.Error().Err(o.err).Msg("sandbox failed")
		fmt.Fprintf(a.sys, "sandbox error: %v\n", o.err)
		v.status, v.reason = streams.StatusError, streams.ReasonSandboxError
	case o.exit.Code == 0:
		// A child may have been OOM-killed and survived by cargo (a build
		// script retried); the step still succeeded.
		return verdict{}, false
	case o.exit.OOMKilled:
		fmt.Fprintf(a.sys, "killed: out of memory (limit %d MiB)\n", a.lim.memoryBytes>>20)
		v.reason = streams.ReasonOOM
	case o.diag.sourceUnreadable():
		return a.sourceUnreadable(fmt.Errorf("cargo could not read it (see above)")), true
	case o.diag.toolchainMissing():
		fmt.Fprintf(a.sys, "toolchain %s is not installed on this builder\n", a.job.Toolchain)
		v.status, v.reason = streams.StatusError, streams.ReasonToolchainMissing
	case o.diag.missingComponent() != "":
		return a.componentMissing(o.diag.missingComponent()), true
	case o.diag.registryUnreachable():
		fmt.Fprintf(a.sys, "the registry %s could not be read\n", a.job.CrateSource)
		v.status, v.reason = streams.StatusPrepareFail, streams.ReasonDownloadFailed
	default:
		v.reason = o.diag.reason(a.job.Crate)
	}
	return v, true
}
