package cargo

import (
	"context"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// fix applies the compiler's suggestions as crater's fix mode does (cargo
// fix --allow-no-vcs --allow-dirty --frozen --workspace --all-targets on a
// writable copy of the crate, lints not capped): cargo fix fails when the
// crate does not compile or a fix breaks it, a build failure.
func (b *Build) fix(ctx context.Context) Verdict {
	root, v, ok := b.rootCrate(ctx)
	if !ok {
		return v
	}
	// Capped lints would hide the very warnings whose fixes are tested.
	env := b.env
	b.env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "RUSTFLAGS=") || strings.HasPrefix(kv, "RUSTDOCFLAGS=")
	})
	defer func() { b.env = env }()
	o := b.step(ctx, b.ws.Crate(), root.allTargets("fix", "--allow-no-vcs", "--allow-dirty", "--frozen", "--workspace")...)
	if v, failed := b.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return Verdict{Status: streams.StatusTestPass}
}
