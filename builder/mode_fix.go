package builder

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
func (a *attempt) fix(ctx context.Context) verdict {
	root, v, ok := a.rootCrate(ctx)
	if !ok {
		return v
	}
	// Capped lints would hide the very warnings whose fixes are tested.
	env := a.env
	a.env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "RUSTFLAGS=") || strings.HasPrefix(kv, "RUSTDOCFLAGS=")
	})
	defer func() { a.env = env }()
	o := a.step(ctx, a.ws.Crate(), root.allTargets("fix", "--allow-no-vcs", "--allow-dirty", "--frozen", "--workspace")...)
	if v, failed := a.failure(ctx, o, streams.StatusBuildFail); failed {
		return v
	}
	return verdict{status: streams.StatusTestPass}
}
