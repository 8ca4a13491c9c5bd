package cargo

import (
	"context"
	"errors"
	"fmt"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// steps runs the mode's steps, as crater does, and maps their outcome to
// crater's results. Each cargo step is one sandbox task.
func (b *Build) steps(ctx context.Context) Verdict {
	// A toolchain without the mode's component cannot run the job at all:
	// say so before spending a sandbox task on preparing it.
	if c := MissingComponent(b.Host.RustupHome, b.Job.Toolchain, modeComponents(b.Job.Mode)...); c != "" {
		return b.componentMissing(c)
	}
	if !streams.IsRegistrySource(b.Job.CrateSource) {
		if err := checkSource(b.Job.CrateSource, b.Hidden); err != nil {
			return b.sourceUnreadable(err)
		}
	}
	if v, ok := b.prepare(ctx); !ok {
		return v
	}
	switch b.Job.Mode {
	case streams.ModeCheckOnly:
		o := b.step(ctx, b.ws.Wrapper(), "check", "--frozen")
		if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return Verdict{Status: streams.StatusTestPass}
	case streams.ModeBuildOnly:
		o := b.step(ctx, b.ws.Wrapper(), "build", "--frozen")
		if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		fmt.Fprintf(b.Log.System, "tests skipped: mode %s runs no tests\n", b.Job.Mode)
		return Verdict{Status: streams.StatusTestSkipped}
	case streams.ModeBuildAndTest:
		// The crate's own package for its tests is made and resolved now,
		// before the build runs crate code (see workspace.Workspace).
		tests, v, ok := b.prepareTests(ctx)
		if !ok {
			return v
		}
		o := b.step(ctx, b.ws.Wrapper(), "build", "--frozen")
		if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
			return v
		}
		return b.test(ctx, tests)
	case streams.ModeClippy:
		return b.clippy(ctx)
	case streams.ModeRustdoc:
		return b.rustdoc(ctx)
	case streams.ModeUnstableFeatures:
		return b.unstableFeatures()
	case streams.ModeFix:
		return b.fix(ctx)
	case streams.ModeMiri:
		return b.miri(ctx)
	}
	// Decode validated the mode; a new mode reaching here is a bug here.
	fmt.Fprintf(b.Log.System, "builder error: mode %q not implemented\n", b.Job.Mode)
	return Verdict{Status: streams.StatusError, Reason: streams.ReasonUnsupportedMode, ExitCode: -1}
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
func (b *Build) prepare(ctx context.Context) (Verdict, bool) {
	o, err := b.resolve(ctx, workspace.WrapperDir)
	if err != nil {
		return b.fetchFailure(err), false
	}
	if v, failed := b.failure(ctx, o, streams.StatusPrepareFail); failed {
		if v.Status == streams.StatusPrepareFail && !streams.Spurious(v.Reason) {
			fmt.Fprintf(b.Log.System, "cannot resolve %s %s from %s: crate broken\n", b.Job.Crate, b.Job.Version, b.Job.CrateSource)
			return Verdict{Status: streams.StatusBroken, ExitCode: v.ExitCode}, false
		}
		return v, false
	}
	return Verdict{}, true
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
func (b *Build) prepareTests(ctx context.Context) (testPlan, Verdict, bool) {
	err := b.copyRootCrate(false)
	if errors.Is(err, workspace.ErrCrateNotFound) {
		return testPlan{skip: err.Error()}, Verdict{}, true
	}
	if err != nil {
		return testPlan{}, b.WorkspaceError(err), false
	}
	o, err := b.resolve(ctx, workspace.CrateDir)
	if err != nil {
		return testPlan{}, b.fetchFailure(err), false
	}
	if v, failed := b.failure(ctx, o, streams.StatusTestFail); failed {
		if v.Status == streams.StatusTestFail && !streams.Spurious(v.Reason) {
			// Usually dev-dependencies the local source does not have.
			return testPlan{skip: "the crate's own dependencies (dev-dependencies included) cannot be resolved from " + b.Job.CrateSource}, Verdict{}, true
		}
		return testPlan{}, v, false
	}
	return testPlan{}, Verdict{}, true
}

// test runs the crate's own tests in the package prepareTests made.
func (b *Build) test(ctx context.Context, plan testPlan) Verdict {
	if plan.skip != "" {
		fmt.Fprintf(b.Log.System, "tests skipped: %s\n", plan.skip)
		return Verdict{Status: streams.StatusTestSkipped}
	}
	o := b.step(ctx, b.ws.Crate(), "test", "--frozen")
	if v, failed := b.failure(ctx, o, streams.StatusTestFail); failed {
		return v
	}
	if o.diag.noTests() {
		fmt.Fprintf(b.Log.System, "tests skipped: the crate has no tests (cargo test ran 0)\n")
		return Verdict{Status: streams.StatusTestSkipped}
	}
	return Verdict{Status: streams.StatusTestPass}
}

// sourceUnreadable ends an attempt whose directory crate source builds
// cannot read: the builder's setup is wrong, and nothing is known of the
// crate.
func (b *Build) sourceUnreadable(err error) Verdict {
	b.Logger.Error().Err(err).Str("crate_source", b.Job.CrateSource).Msg("builds cannot read the crate source")
	fmt.Fprintf(b.Log.System, "builder error: builds cannot read the crate source %s: %v\n", b.Job.CrateSource, err)
	return Verdict{Status: streams.StatusError, Reason: streams.ReasonCrateSourceUnreadable, ExitCode: -1}
}

// WorkspaceError ends an attempt whose job dir could not be set up.
func (b *Build) WorkspaceError(err error) Verdict {
	b.Logger.Error().Err(err).Msg("prepare workspace")
	fmt.Fprintf(b.Log.System, "builder error: %v\n", err)
	return Verdict{Status: streams.StatusError, Reason: streams.ReasonWorkspaceError, ExitCode: -1}
}
