package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/registry"
	"github.com/ejecta-build/ejecta/streams"
)

// ErrRegistryUnreadable: the registry's index could not be read; the
// request itself may be fine.
var ErrRegistryUnreadable = errors.New("registry unreadable")

// registryLookups bounds the index files fetched at once.
const registryLookups = 16

// RegistrySource reads from a sparse registry's index the versions of the
// crates a list selection and its exclusions name, as a Source those can
// be resolved against. A sparse index has no list of its crates, so
// "all", top-N and random-N are refused with what to use instead. Yanked
// versions are left out, as cargo leaves them out of a new resolution.
func RegistrySource(ctx context.Context, source, spec, skip string) (*Source, error) {
	spec = strings.TrimSpace(spec)
	if spec == "all" || strings.HasPrefix(spec, "top-") || strings.HasPrefix(spec, "random-") {
		return nil, fmt.Errorf("crates: %q needs the list of every crate of the source, which a sparse registry's index does not give: name the crates (a,b@1.2.3 or @FILE), or use a local directory source", spec)
	}
	reg, err := registry.NewClient(source)
	if err != nil {
		return nil, fmt.Errorf("crate-source: %w", err)
	}
	names := map[string]bool{}
	for _, s := range []struct{ what, spec string }{{"crates", spec}, {"skip", skip}} {
		if strings.TrimSpace(s.spec) == "" {
			continue
		}
		items, err := listItems(strings.TrimSpace(s.spec))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
		for _, item := range items {
			name, _, _ := strings.Cut(strings.TrimSpace(item), "@")
			if name == "" {
				continue
			}
			if err := streams.ValidateCrateName(name); err != nil {
				return nil, fmt.Errorf("%s: %w", s.what, err)
			}
			names[name] = true
		}
	}
	src := &Source{Dir: source, crates: map[string][]string{}, rdeps: map[string]map[string]bool{}}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(registryLookups)
	for name := range names {
		g.Go(func() error {
			vs, err := reg.Versions(gctx, name)
			if errors.Is(err, registry.ErrNotFound) {
				return nil // reported with every other unknown crate by the selection
			}
			if err != nil {
				return fmt.Errorf("crate-source: %w: %w", ErrRegistryUnreadable, err)
			}
			var vers []string
			for _, v := range vs {
				if !v.Yanked {
					vers = append(vers, v.Vers)
				}
			}
			if len(vers) == 0 {
				return nil
			}
			slices.SortFunc(vers, streams.CompareVersions)
			mu.Lock()
			src.crates[name] = vers
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return src, nil
}
