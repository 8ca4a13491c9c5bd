package builder

import (
	"context"
	"errors"
	"fmt"

	"github.com/ejecta-build/ejecta/builder/workspace"
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
	if !streams.IsRegistrySource(a.job.CrateSource) {
		if err := checkSource(a.job.CrateSource, a.b.hidden()); err != nil {
			return a.sourceUnreadable(err)
		}
	}
	if v, ok := a.prepare(ctx); !ok {
		return v
	}
	switch a.job.Mode {
	case streams.ModeCheckOnly:
		o := a.step(ctx, a.ws.Wrapper(), "check", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return verdict{status: streams.StatusTestPass}
	case streams.ModeBuildOnly:
		o := a.step(ctx, a.ws.Wrapper(), "build", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		fmt.Fprintf(a.sys, "tests skipped: mode %s runs no tests\n", a.job.Mode)
		return verdict{status: streams.StatusTestSkipped}
	case streams.ModeBuildAndTest:
		// The crate's own package for its tests is made and resolved now,
		// before the build runs crate code (see workspace.Workspace).
		tests, v, ok := a.prepareTests(ctx)
		if !ok {
			return v
		}
		o := a.step(ctx, a.ws.Wrapper(), "build", "--frozen")
		if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return a.test(ctx, tests)
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
	return verdict{status: streams.StatusError, reason: streams.ReasonUnsupportedMode, exitCode: -1}
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
	o, err := a.resolve(ctx, workspace.WrapperDir)
	if err != nil {
		return a.fetchFailure(err), false
	}
	if v, failed := a.failure(ctx, o, streams.StatusPrepareFail); failed {
		if v.status == streams.StatusPrepareFail && !streams.Spurious(v.reason) {
			fmt.Fprintf(a.sys, "cannot resolve %s %s from %s: crate broken\n", a.job.Crate, a.job.Version, a.job.CrateSource)
			return verdict{status: streams.StatusBroken, exitCode: v.exitCode}, false
		}
		return v, false
	}
	return verdict{}, true
}

// testPlan is what prepareTests found: the crate's tests can run, or why
// they are skipped.
type testPlan struct {
	skip string // "": run them
}

// prepareTests copies the crate as the root package and resolves it, its
// dev-dependencies included, for build-and-test: a dependency's tests
// cannot be run through the wrapper, and only the root package gets its
// dev-dependencies. It runs before the build, since the builder touches
// nothing in the job dir once crate code has run. A crate whose tests
// cannot be set up has them skipped; ok is false only when the attempt
// ends here (the sandbox or the registry failed).
func (a *attempt) prepareTests(ctx context.Context) (testPlan, verdict, bool) {
	err := a.copyRootCrate(false)
	if errors.Is(err, workspace.ErrCrateNotFound) {
		return testPlan{skip: err.Error()}, verdict{}, true
	}
	if err != nil {
		return testPlan{}, a.workspaceError(err), false
	}
	o, err := a.resolve(ctx, workspace.CrateDir)
	if err != nil {
		return testPlan{}, a.fetchFailure(err), false
	}
	if v, failed := a.failure(ctx, o, streams.StatusTestFail); failed {
		if v.status == streams.StatusTestFail && !streams.Spurious(v.reason) {
			// Usually dev-dependencies the local source does not have.
			return testPlan{skip: "the crate's own dependencies (dev-dependencies included) cannot be resolved from " + a.job.CrateSource}, verdict{}, true
		}
		return testPlan{}, v, false
	}
	return testPlan{}, verdict{}, true
}

// test runs the crate's own tests in the package prepareTests made.
func (a *attempt) test(ctx context.Context, plan testPlan) verdict {
	if plan.skip != "" {
		fmt.Fprintf(a.sys, "tests skipped: %s\n", plan.skip)
		return verdict{status: streams.StatusTestSkipped}
	}
	o := a.step(ctx, a.ws.Crate(), "test", "--frozen")
	if v, failed := a.failure(ctx, o, streams.StatusTestFail); failed {
		return v
	}
	if o.diag.noTests() {
		fmt.Fprintf(a.sys, "tests skipped: the crate has no tests (cargo test ran 0)\n")
		return verdict{status: streams.StatusTestSkipped}
	}
	return verdict{status: streams.StatusTestPass}
}

// sourceUnreadable ends an attempt whose directory crate source builds
// cannot read: the builder's setup is wrong, and nothing is known of the
// crate.
func (a *attempt) sourceUnreadable(err error) verdict {
	a.log.Error().Err(err).Str("crate_source", a.job.CrateSource).Msg("builds cannot read the crate source")
	fmt.Fprintf(a.sys, "builder error: builds cannot read the crate source %s: %v\n", a.job.CrateSource, err)
	return verdict{status: streams.StatusError, reason: streams.ReasonCrateSourceUnreadable, exitCode: -1}
}

// workspaceError ends an attempt whose job dir could not be set up.
func (a *attempt) workspaceError(err error) verdict {
	a.log.Error().Err(err).Msg("prepare workspace")
	fmt.Fprintf(a.sys, "builder error: %v\n", err)
	return verdict{status: streams.StatusError, reason: streams.ReasonWorkspaceError, exitCode: -1}
}
