package cargo

import (
	"context"

	"github.com/ejecta-build/ejecta/streams"
)

// clippy lints the crate as crater's clippy mode does (cargo clippy
// --frozen --workspace --all-targets on the crate itself): an error, a
// denied lint included, is a build failure whose reason names the lint.
func (b *Build) clippy(ctx context.Context) Verdict {
	root, v, ok := b.rootCrate(ctx)
	if !ok {
		return v
	}
	o := b.step(ctx, b.ws.Crate(), root.allTargets("clippy", "--frozen", "--workspace")...)
	if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return Verdict{Status: streams.StatusTestPass}
}
