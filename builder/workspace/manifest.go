package workspace

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// RegistryOnly rewrites the manifest of a crate from a remote registry so
// that resolving it, with the network, fetches from that registry alone:
// out go the dependencies on git repositories, paths and other registries
// (in every dependency table, target-specific ones included), [patch] and
// [replace], and a workspace's members. A registry's crates cannot name
// any of them (crates.io refuses them, and cargo ignores [patch] and
// [replace] of a dependency); a hostile one would make the builder's
// network fetch from wherever it likes, the host's own services included.
// It returns what it dropped.
func (w *Workspace) RegistryOnly(manifest string) ([]string, error) {
	var m map[string]any
	if err := w.DecodeTOML(manifest, &m); err != nil {
		return nil, nil // cargo will say what is wrong with it
	}
	var dropped []string
	for _, k := range []string{"patch", "replace"} {
		if _, ok := m[k]; ok {
			delete(m, k)
			dropped = append(dropped, "["+k+"]")
		}
	}
	if ws, ok := m["workspace"].(map[string]any); ok && len(ws) > 0 {
		m["workspace"] = map[string]any{}
		dropped = append(dropped, "[workspace] members")
	}
	tables := []map[string]any{m}
	if targets, ok := m["target"].(map[string]any); ok {
		for _, t := range targets {
			if t, ok := t.(map[string]any); ok {
				tables = append(tables, t)
			}
		}
	}
	for _, t := range tables {
		for _, k := range []string{"dependencies", "dev-dependencies", "dev_dependencies", "build-dependencies", "build_dependencies"} {
			deps, _ := t[k].(map[string]any)
			for name, d := range deps {
				d, ok := d.(map[string]any)
				if !ok {
					continue // a version requirement: the registry's
				}
				for _, src := range []string{"git", "path", "registry", "registry-index"} {
					if _, ok := d[src]; ok {
						delete(deps, name)
						dropped = append(dropped, name+" ("+src+")")
						break
					}
				}
			}
		}
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, fmt.Errorf("rewrite manifest for the registry: %w", err)
	}
	if err := w.writeFile(manifest, buf.String()); err != nil {
		return nil, fmt.Errorf("rewrite manifest for the registry: %w", err)
	}
	slices.Sort(dropped)
	return dropped, nil
}

// TrimForResolution rewrites a manifest so that it resolves with fewer
// crates: without its dev-dependencies ([dev-dependencies] and
// [target.'cfg(..)'.dev-dependencies]), and without the optional
// dependencies its default features do not enable (the root package's
// lockfile must resolve every optional dependency, a dependency's only the
// enabled ones). Feature entries naming a dropped dependency go too. It
// returns what it dropped, nothing if there was nothing to drop.
func (w *Workspace) TrimForResolution(manifest string) ([]string, error) {
	var m map[string]any
	if err := w.DecodeTOML(manifest, &m); err != nil {
		return nil, nil // cargo has already said what is wrong with it
	}
	tables := []map[string]any{m}
	if targets, ok := m["target"].(map[string]any); ok {
		for _, t := range targets {
			if t, ok := t.(map[string]any); ok {
				tables = append(tables, t)
			}
		}
	}
	var dropped []string
	for _, t := range tables {
		for _, k := range []string{"dev-dependencies", "dev_dependencies"} {
			if _, ok := t[k]; ok {
				delete(t, k)
				dropped = append(dropped, "dev-dependencies")
			}
		}
	}
	features, _ := m["features"].(map[string]any)
	used := defaultDeps(features)
	gone := map[string]bool{}
	for _, t := range tables {
		for _, k := range []string{"dependencies", "build-dependencies", "build_dependencies"} {
			deps, _ := t[k].(map[string]any)
			for name, d := range deps {
				if d, ok := d.(map[string]any); ok && d["optional"] == true && !used[name] {
					delete(deps, name)
					gone[name] = true
				}
			}
		}
	}
	for name := range gone {
		dropped = append(dropped, name)
	}
	for f, v := range features {
		items, ok := v.([]any)
		if !ok {
			continue
		}
		kept := []any{}
		for _, it := range items {
			if s, ok := it.(string); !ok || !gone[featureDep(s)] || features[s] != nil {
				kept = append(kept, it)
			}
		}
		features[f] = kept
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(m); err != nil {
		return nil, fmt.Errorf("rewrite manifest for resolution: %w", err)
	}
	if err := w.writeFile(manifest, buf.String()); err != nil {
		return nil, fmt.Errorf("rewrite manifest for resolution: %w", err)
	}
	slices.Sort(dropped)
	return slices.Compact(dropped), nil
}

// featureDep is the dependency a feature entry refers to: "dep:x", "x",
// "x/f" and "x?/f" all name x (plain "x" may also be a feature).
func featureDep(item string) string {
	item = strings.TrimPrefix(item, "dep:")
	if i := strings.IndexByte(item, '/'); i >= 0 {
		item = item[:i]
	}
	return strings.TrimSuffix(item, "?")
}

// defaultDeps are the names the default features enable, features and
// optional dependencies alike, following features through features. A weak
// "x?/f" enables nothing.
func defaultDeps(features map[string]any) map[string]bool {
	used := map[string]bool{}
	var visit func(string)
	visit = func(f string) {
		items, _ := features[f].([]any)
		for _, it := range items {
			s, ok := it.(string)
			if !ok || strings.Contains(s, "?/") {
				continue
			}
			name := featureDep(s)
			if used[name] {
				continue
			}
			used[name] = true
			if !strings.HasPrefix(s, "dep:") && !strings.Contains(s, "/") {
				visit(name)
			}
		}
	}
	visit("default")
	return used
}
