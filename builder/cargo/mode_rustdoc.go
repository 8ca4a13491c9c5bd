package cargo

import (
	"context"

	"github.com/ejecta-build/ejecta/streams"
)

// rustdoc documents the crate as crater's rustdoc mode does first (cargo
// doc --frozen --no-deps --document-private-items on the crate itself); a
// failure is a build failure, crater having no class of its own for it.
// Crater's second pass, `cargo rustdoc` with the crate's docs.rs metadata,
// is not run.
func (b *Build) rustdoc(ctx context.Context) Verdict {
	if _, v, ok := b.rootCrate(ctx); !ok {
		return v
	}
	o := b.step(ctx, b.ws.Crate(), "doc", "--frozen", "--no-deps", "--document-private-items")
	if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return Verdict{Status: streams.StatusTestPass}
}
