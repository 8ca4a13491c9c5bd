package cargo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ejecta-build/ejecta/registry"
	"github.com/ejecta-build/ejecta/streams"
)

// Crates from a remote registry (a job whose crate source is
// "sparse+https://…/") are prepared as crater prepares them, in two
// parts:
//
//  1. `cargo generate-lockfile` resolves the dependencies against the
//     registry's index. It is the only step with the network, and it runs
//     no code of any crate.
//  2. The builder fetches every registry package of the lockfile, checks
//     each file against the index's sha256 (the lockfile's checksum), keeps
//     it in its download cache and unpacks it into the job's vendor dir.
//
// Every later step then runs offline against the vendor dir, a directory
// source like any local one.

// crateSource is the local directory source the attempt's steps build
// from: the job's own, or the vendor dir its registry crates went to.
func (b *Build) crateSource() string { return b.ws.LocalSource(b.Job.CrateSource) }

// resolve makes the lockfile of pkg (workspace.WrapperDir or
// workspace.CrateDir). From a local source it is offline. From a registry
// it has the network, and then the lockfile's packages are fetched into
// the vendor dir and pkg is pointed at it; a failed fetch is returned as
// fetchErr, the step's outcome being a success. It runs no crate code, and
// must come before any step that does (resolveStep refuses otherwise):
// cargo would read a config a build script had planted, in the one step
// with the network.
func (b *Build) resolve(ctx context.Context, pkg string) (o outcome, fetchErr error) {
	dir := filepath.Join(b.ws.Dir(), pkg)
	if !streams.IsRegistrySource(b.Job.CrateSource) {
		return b.resolveStep(ctx, dir, false), nil
	}
	if err := b.ws.UseRegistry(pkg, b.Job.CrateSource); err != nil {
		return outcome{}, workspaceFault{fmt.Errorf("write cargo config: %w", err)}
	}
	o = b.resolveStep(ctx, dir, true)
	if o.err != nil || o.exit.Code != 0 {
		return o, nil
	}
	if err := b.vendor(ctx, filepath.Join(pkg, "Cargo.lock")); err != nil {
		return o, err
	}
	if err := b.ws.UseVendor(pkg); err != nil {
		return o, workspaceFault{fmt.Errorf("write cargo config: %w", err)}
	}
	return o, nil
}

// cratesIOSource is how a lockfile names crates.io, and so the job's
// registry standing in for it.
const cratesIOSource = "registry+https://github.com/rust-lang/crates.io-index"

// vendor fetches and unpacks every registry package of lockfile (relative
// to the job dir).
func (b *Build) vendor(ctx context.Context, lockfile string) error {
	var lock struct {
		Package []struct {
			Name, Version, Source, Checksum string
		}
	}
	if err := b.ws.DecodeTOML(lockfile, &lock); err != nil {
		return fmt.Errorf("read %s: %w", lockfile, err)
	}
	reg, err := b.Registries.Client(b.Job.CrateSource)
	if err != nil {
		return err
	}
	cache, err := b.Registries.Cache()
	if err != nil {
		return workspaceFault{err}
	}
	fetched, cached := 0, 0
	for _, p := range lock.Package {
		if p.Source != cratesIOSource {
			continue // the wrapper, the crate under test copied in, path dependencies
		}
		if p.Checksum == "" {
			return fmt.Errorf("%s: package %s %s has no checksum", lockfile, p.Name, p.Version)
		}
		v := registry.Version{Name: p.Name, Vers: p.Version, Cksum: p.Checksum}
		f, hit, err := cache.Fetch(ctx, reg, v)
		if err != nil {
			return err
		}
		err = registry.Unpack(f, b.ws.Vendor(), v)
		f.Close()
		if err != nil {
			return err
		}
		if hit {
			cached++
		} else {
			fetched++
		}
		b.Registries.Fetched(hit)
	}
	fmt.Fprintf(b.Log.System, "crates from %s: %d downloaded, %d from the download cache, sha256 checked against the index\n",
		b.Job.CrateSource, fetched, cached)
	return nil
}

// workspaceFault marks an error of resolve that is the builder's own (its
// disk, its cache), not the registry's: the attempt is an error, not a
// prepare failure of the crate.
type workspaceFault struct{ error }

func (w workspaceFault) Unwrap() error { return w.error }

// fetchFailure ends an attempt whose crates could not be fetched.
func (b *Build) fetchFailure(err error) Verdict {
	if wf := (workspaceFault{}); errors.As(err, &wf) {
		return b.WorkspaceError(wf.error)
	}
	fmt.Fprintf(b.Log.System, "cannot fetch the crates: %v\n", err)
	reason := streams.ReasonDownloadFailed
	if errors.Is(err, registry.ErrChecksum) {
		reason = streams.ReasonChecksumMismatch
	}
	b.Logger.Warn().Err(err).Str("reason", string(reason)).Msg("fetching crates failed")
	return Verdict{Status: streams.StatusPrepareFail, Reason: reason, ExitCode: -1}
}
