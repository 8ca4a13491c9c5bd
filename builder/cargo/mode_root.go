package cargo

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/streams"
)

// rootCrate is the crate under test copied into the job dir as the root
// package: cargo clippy, doc, fix and miri work on the root package only
// (through the wrapper they would see the crate as a dependency, with its
// lints capped). devDeps is false when its dev-dependencies had to be
// dropped to resolve it, so targets that need them must be left out.
type rootCrate struct {
	devDeps bool
}

// rootCrate copies the crate and resolves it as the root package. The
// local source often lacks a dev-dependency (Debian packages only what
// libraries need), or an optional dependency no default feature enables;
// the crate is then resolved without them (see
// workspace.Workspace.TrimForResolution) rather than called broken, since
// the wrapper resolved it fine.
func (b *Build) rootCrate(ctx context.Context) (rootCrate, Verdict, bool) {
	// cargo fix rewrites the crate's sources; the other modes only read
	// them, as from the crate source itself.
	if err := b.copyRootCrate(b.Job.Mode == streams.ModeFix); err != nil {
		return rootCrate{}, b.WorkspaceError(err), false
	}
	o, err := b.resolve(ctx, workspace.CrateDir)
	if err != nil {
		return rootCrate{}, b.fetchFailure(err), false
	}
	v, failed := b.failure(ctx, o, streams.StatusBroken)
	if !failed {
		return rootCrate{devDeps: true}, Verdict{}, true
	}
	if v.Status != streams.StatusBroken || streams.Spurious(v.Reason) {
		return rootCrate{}, v, false
	}
	dropped, err := b.ws.TrimForResolution(filepath.Join(workspace.CrateDir, "Cargo.toml"))
	if err != nil {
		return rootCrate{}, b.WorkspaceError(err), false
	}
	if len(dropped) > 0 {
		fmt.Fprintf(b.Log.System, "the crate as the root package cannot be resolved from %s: resolving it without %s\n",
			b.Job.CrateSource, strings.Join(dropped, ", "))
		if o, err = b.resolve(ctx, workspace.CrateDir); err != nil {
			return rootCrate{}, b.fetchFailure(err), false
		}
		v, failed = b.failure(ctx, o, streams.StatusBroken)
		if !failed {
			return rootCrate{devDeps: !slices.Contains(dropped, "dev-dependencies")}, Verdict{}, true
		}
		if v.Status != streams.StatusBroken || streams.Spurious(v.Reason) {
			return rootCrate{}, v, false
		}
	}
	fmt.Fprintf(b.Log.System, "cannot resolve %s %s as the root package from %s: crate broken\n", b.Job.Crate, b.Job.Version, b.Job.CrateSource)
	return rootCrate{}, Verdict{Status: streams.StatusBroken, ExitCode: v.ExitCode}, false
}

// copyRootCrate copies the crate under test into the job dir as a package
// of its own (workspace.copyCrate). A crate from a remote registry is
// resolved with the network, and what its manifest names is fetched: it
// keeps only what comes from the registry (Workspace.RegistryOnly).
func (b *Build) copyRootCrate(writable bool) error {
	dir, err := workspace.FindCrate(b.crateSource(), b.Job.Crate, b.Job.Version)
	if err != nil {
		return err
	}
	if err := b.ws.CopyCrate(dir, b.crateSource(), writable); err != nil {
		return err
	}
	if !streams.IsRegistrySource(b.Job.CrateSource) {
		return nil
	}
	dropped, err := b.ws.RegistryOnly(filepath.Join(workspace.CrateDir, "Cargo.toml"))
	if err != nil {
		return err
	}
	if len(dropped) > 0 {
		fmt.Fprintf(b.Log.System, "the crate's manifest names sources other than %s, which are left out: %s\n",
			b.Job.CrateSource, strings.Join(dropped, ", "))
	}
	return nil
}

// allTargets is crater's --all-targets, when the dev-dependencies that
// tests, examples and benches may need are there.
func (r rootCrate) allTargets(args ...string) []string {
	if r.devDeps {
		args = append(args, "--all-targets")
	}
	return args
}
