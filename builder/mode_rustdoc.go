package builder

import (
	"context"

	"github.com/ejecta-build/ejecta/streams"
)

// rustdoc documents the crate as crater's rustdoc mode does first (cargo
// doc --frozen --no-deps --document-private-items on the crate itself); a
// failure is a build failure, crater having no class of its own for it.
// Crater's second pass, `cargo rustdoc` with the crate's docs.rs metadata,
// is not run.
func (a *attempt) rustdoc(ctx context.Context) verdict {
	if _, v, ok := a.rootCrate(ctx); !ok {
		return v
	}
	o := a.step(ctx, a.ws.Crate(), "doc", "--frozen", "--no-deps", "--document-private-items")
	if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return verdict{status: streams.StatusTestPass}
}
