package builder

import (
	"context"

	"github.com/ejecta-build/ejecta/streams"
)

// clippy lints the crate as crater's clippy mode does (cargo clippy
// --frozen --workspace --all-targets on the crate itself): an error, a
// denied lint included, is a build failure whose reason names the lint.
func (a *attempt) clippy(ctx context.Context) verdict {
	root, v, ok := a.rootCrate(ctx)
	if !ok {
		return v
	}
	o := a.step(ctx, a.ws.Crate(), root.allTargets("clippy", "--frozen", "--workspace")...)
	if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return verdict{status: streams.StatusTestPass}
}
