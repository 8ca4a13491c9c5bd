package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

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
// output streaming into the log and past the diagnostics.
func (a *attempt) step(ctx context.Context, dir string, args ...string) outcome {
	return a.runStep(ctx, dir, false, args...)
}

// networkStep is a step with the host's network: only for resolving
// against a remote registry, which runs no code of any crate.
func (a *attempt) networkStep(ctx context.Context, dir string, args ...string) outcome {
	return a.runStep(ctx, dir, true, args...)
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
	t := sandbox.Task{
		ID:           containerPrefix(a.b.cfg.ID) + strconv.Itoa(a.slot) + "-" + strconv.FormatUint(a.b.tasks.Add(1), 10),
		Args:         append([]string{a.b.cfg.CargoPath, "+" + tc}, args...),
		Env:          a.env,
		Dir:          dir,
		WritableDirs: []string{a.ws.dir},
		MemoryBytes:  a.lim.memoryBytes,
		CPUs:         a.cpus(),
		PidsLimit:    a.b.cfg.PidsLimit,
		TmpBytes:     a.lim.tmpBytes,
		Network:      network,
		Stdout:       io.MultiWriter(a.capped.writer(streams.StreamStdout), diag.writer(), a.quiet),
		Stderr:       io.MultiWriter(a.capped.writer(streams.StreamStderr), diag.writer(), a.quiet),
	}
	// The quiet period counts from the task's start, not from the last
	// output of the step before.
	a.quiet.reset()
	exit, err := a.b.run.Run(ctx, t)
	// A failed write stays in the chunker and ends the log with an error.
	_ = a.capped.endStep()
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
		v.reason = reasonTimeout
	case o.err != nil && errors.Is(context.Cause(ctx), errNoOutput):
		fmt.Fprintf(a.sys, "no output for %s; the build was killed\n", a.lim.noOutput)
		v.reason = reasonNoOutputTimeout
	case o.err != nil && ctx.Err() != nil:
		v.abandoned = true
	case o.err != nil:
		a.log.Error().Err(o.err).Msg("sandbox failed")
		fmt.Fprintf(a.sys, "sandbox error: %v\n", o.err)
		v.status, v.reason = streams.StatusError, reasonSandboxError
	case o.exit.Code == 0:
		// A child may have been OOM-killed and survived by cargo (a build
		// script retried); the step still succeeded.
		return verdict{}, false
	case o.exit.OOMKilled:
		fmt.Fprintf(a.sys, "killed: out of memory (limit %d MiB)\n", a.lim.memoryBytes>>20)
		v.reason = reasonOOM
	case o.diag.toolchainMissing():
		fmt.Fprintf(a.sys, "toolchain %s is not installed on this builder\n", a.job.Toolchain)
		v.status, v.reason = streams.StatusError, reasonToolchainMissing
	case o.diag.missingComponent() != "":
		return a.componentMissing(o.diag.missingComponent()), true
	case o.diag.registryUnreachable():
		fmt.Fprintf(a.sys, "the registry %s could not be read\n", a.job.CrateSource)
		v.status, v.reason = streams.StatusPrepareFail, reasonDownload
	default:
		v.reason = o.diag.reason(a.job.Crate)
	}
	return v, true
}
