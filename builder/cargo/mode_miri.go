package cargo

import (
	"context"
	"fmt"

	"github.com/ejecta-build/ejecta/streams"
)

// miri runs the crate's tests under Miri, as crater-at-home does. steps
// has checked that the toolchain has the miri and rust-src components.
// Building the tests for Miri (which first builds Miri's own sysroot into
// the job dir's cache) failing is a build failure; a test failing, or Miri
// reporting undefined behaviour, a test failure. Without its
// dev-dependencies the crate has no tests to run: test-skipped.
//
// Only the missing-component path has been run for real (no toolchain here
// has miri). Miri builds its sysroot on first use from rust-src plus std's
// own crates.io dependencies, which the offline sandbox cannot fetch: a
// builder will need a sysroot prepared ahead (MIRI_SYSROOT), not yet
// supported.
func (b *Build) miri(ctx context.Context) Verdict {
	root, v, ok := b.rootCrate(ctx)
	if !ok {
		return v
	}
	if !root.devDeps {
		fmt.Fprintf(b.Log.System, "tests skipped: Miri runs the crate's tests, which need the dev-dependencies\n")
		return Verdict{Status: streams.StatusTestSkipped}
	}
	o := b.step(ctx, b.ws.Crate(), "miri", "test", "--frozen", "--no-run")
	if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	o = b.step(ctx, b.ws.Crate(), "miri", "test", "--frozen")
	if v, failed := b.failure(ctx, o, streams.StatusTestFail); failed {
		if v.Status == streams.StatusTestFail && o.diag.undefinedBehavior() {
			v.Reason = streams.ReasonUndefinedBehavior
		}
		return v
	}
	if o.diag.noTests() {
		fmt.Fprintf(b.Log.System, "tests skipped: the crate has no tests (cargo miri test ran 0)\n")
		return Verdict{Status: streams.StatusTestSkipped}
	}
	return Verdict{Status: streams.StatusTestPass}
}
