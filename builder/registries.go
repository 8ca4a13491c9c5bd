package builder

import (
	"github.com/ejecta-build/ejecta/registry"
)

// registries are the builder's clients of remote registries and its
// download cache, which every slot's builds share (cargo.Registries).
type registries struct{ b *Builder }

func (r registries) Client(source string) (*registry.Client, error) {
	return r.b.registryClient(source)
}
func (r registries) Cache() (*registry.Cache, error) { return r.b.crateCache() }
func (r registries) Fetched(cached bool)             { r.b.met.crateFetched(cached) }

// registryClient returns the builder's client of a registry, one per
// registry so its config.json is read once.
func (b *Builder) registryClient(source string) (*registry.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.registries[source]; ok {
		return c, nil
	}
	c, err := registry.NewClient(source)
	if err != nil {
		return nil, err
	}
	b.registries[source] = c
	return c, nil
}

// crateCache opens the download cache the first time a job needs it.
func (b *Builder) crateCache() (*registry.Cache, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cache != nil {
		return b.cache, nil
	}
	c, err := registry.OpenCache(b.cfg.CrateCacheDir, b.cfg.CrateCacheBytes)
	if err != nil {
		return nil, err
	}
	b.cache = c
	return c, nil
}
