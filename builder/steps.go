package builder

import (
	"context"
	"errors"
	"fmt"

	"github.com/ejecta-build/ejecta/streams"
)

// steps runs the mode's steps, as crater does, and maps their outcome to
// crater's results. Each cargo step is one sandbox task.
func (a *attempt) steps(ctx context.Context) verdict {
	// A toolchain without the mode's component cannot run the job at all:
	// say so before spending a sandbox task on preparing it.
	if c := missingComponent(a.b.cfg.RustupHome, a.job.Toolchain, modeComponents(a.job.Mode)...); c != "" {
		return a.componentMissing(c)
	}
	if v, ok := a.prepare(ctx); !ok {
		return v
	}
	switch a.job.Mode {
	case streams.ModeCheckOnly:
		o := a.step(ctx, a.ws.wrapper(), "check", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return verdict{status: streams.StatusTestPass}
	case streams.ModeBuildOnly:
		o := a.step(ctx, a.ws.wrapper(), "build", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		fmt.Fprintf(a.sys, "tests skipped: mode %s runs no tests\n", a.job.Mode)
		return verdict{status: streams.StatusTestSkipped}
	case streams.ModeBuildAndTest:
		o := a.step(ctx, a.ws.wrapper(), "build", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return a.test(ctx)
	case streams.ModeClippy:
		return a.clippy(ctx)
	case streams.ModeRustdoc:
		return a.rustdoc(ctx)
	case streams.ModeUnstableFeatures:
		return a.unstableFeatures()
	case streams.ModeFix:
		return a.fix(ctx)
	case streams.ModeMiri:
		return a.miri(ctx)
	}
	// Decode validated the mode; a new mode reaching here is a bug here.
	fmt.Fprintf(a.sys, "builder error: mode %q not implemented\n", a.job.Mode)
	return verdict{status: streams.StatusError, reason: "unsupported-mode", exitCode: -1}
}

// modeComponents are the rustup components mode needs beyond rustc and cargo.
func modeComponents(m streams.Mode) []string {
	switch m {
	case streams.ModeClippy:
		return []string{"clippy"}
	case streams.ModeMiri:
		return []string{"miri", "rust-src"}
	}
	return nil
}

// prepare resolves the crate's dependencies from the local source, as
// crater's prepare step does for every mode. A crate that cannot be
// resolved is broken, not a failure of either toolchain.
func (a *attempt) prepare(ctx context.Context) (verdict, bool) {
	o, err := a.resolve(ctx, a.ws.wrapper())
	if err != nil {
		return a.fetchFailure(err), false
	}
	if v, failed := a.failure(ctx, o, streams.StatusPrepareFail); failed {
		if v.status == streams.StatusPrepareFail && !spurious(v.reason) {
			fmt.Fprintf(a.sys, "cannot resolve %s %s from %s: crate broken\n", a.job.Crate, a.job.Version, a.job.CrateSource)
			return verdict{status: streams.StatusBroken, exitCode: v.exitCode}, false
		}
		return v, false
	}
	return verdict{}, true
}

// test runs the crate's own tests with the crate as the root package: a
// dependency's tests cannot be run through the wrapper, and only the root
// package gets its dev-dependencies.
func (a *attempt) test(ctx context.Context) verdict {
	dir, err := findCrateDir(a.crateSource(), a.job.Crate, a.job.Version)
	if err == nil {
		err = a.ws.copyCrate(dir, a.crateSource())
	}
	if errors.Is(err, errCrateNotFound) {
		fmt.Fprintf(a.sys, "tests skipped: %v\n", err)
		return verdict{status: streams.StatusTestSkipped}
	}
	if err != nil {
		return a.workspaceError(err)
	}

	o, err := a.resolve(ctx, a.ws.crate())
	if err != nil {
		return a.fetchFailure(err)
	}
	if v, failed := a.failure(ctx, o, streams.StatusTestFail); failed {
		if v.status == streams.StatusTestFail && !spurious(v.reason) {
			// Usually dev-dependencies the local source does not have.
			fmt.Fprintf(a.sys, "tests skipped: the crate's own dependencies (dev-dependencies included) cannot be resolved from %s\n", a.job.CrateSource)
			return verdict{status: streams.StatusTestSkipped}
		}
		return v
	}
	o = a.step(ctx, a.ws.crate(), "test", "--frozen")
	if v, failed := a.failure(ctx, o, streams.StatusTestFail); failed {
		return v
	}
	if o.diag.noTests() {
		fmt.Fprintf(a.sys, "tests skipped: the crate has no tests (cargo test ran 0)\n")
		return verdict{status: streams.StatusTestSkipped}
	}
	return verdict{status: streams.StatusTestPass}
}

// workspaceError ends an attempt whose job dir could not be set up.
func (a *attempt) workspaceError(err error) verdict {
	a.log.Error().Err(err).Msg("prepare workspace")
	fmt.Fprintf(a.sys, "builder error: %v\n", err)
	return verdict{status: streams.StatusError, reason: "workspace-error", exitCode: -1}
}
