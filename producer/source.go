package producer

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/ejecta-build/ejecta/streams"
)

// Crate is one crate version available in a crate source.
type Crate struct {
	Name    string
	Version string
}

func (c Crate) String() string { return c.Name + "@" + c.Version }

// Source is a local directory registry: one directory per crate version,
// each with a Cargo.toml (Debian's /usr/share/cargo/registry, a `cargo vendor`
// directory).
type Source struct {
	Dir    string
	crates map[string][]string // name → versions, ascending
	// rdeps holds, per crate name, the names of the crates in the source
	// that depend on it (normal or build dependency of any version): the
	// popularity measure for top-N when no downloads file is given.
	rdeps map[string]map[string]bool
}

// ScanSource reads the manifests of every crate under dir. Directories
// without a readable manifest are skipped: a registry can hold partial
// entries, and one bad crate must not hide the others.
func ScanSource(dir string) (*Source, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("crate source %q: want an absolute directory", dir)
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "*", "Cargo.toml"))
	if err != nil {
		return nil, fmt.Errorf("crate source %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("crate source: %w", err)
	}
	s := &Source{Dir: dir, crates: map[string][]string{}, rdeps: map[string]map[string]bool{}}
	for _, m := range manifests {
		c, deps, err := readManifest(m)
		if err != nil {
			continue
		}
		s.crates[c.Name] = append(s.crates[c.Name], c.Version)
		for _, d := range deps {
			if d == c.Name {
				continue
			}
			if s.rdeps[d] == nil {
				s.rdeps[d] = map[string]bool{}
			}
			s.rdeps[d][c.Name] = true
		}
	}
	for name := range s.crates {
		slices.SortFunc(s.crates[name], streams.CompareVersions)
	}
	return s, nil
}

// depTable is a manifest's [dependencies] or [build-dependencies]: the key
// is the name used in code, the value a version string or a table whose
// "package" renames it.
type depTable map[string]any

func (t depTable) names() []string {
	var out []string
	for key, v := range t {
		if spec, ok := v.(map[string]any); ok {
			if pkg, ok := spec["package"].(string); ok && pkg != "" {
				key = pkg
			}
		}
		out = append(out, key)
	}
	return out
}

// readManifest returns the package a Cargo.toml describes and the names of
// the crates it depends on at run or build time, on any target.
func readManifest(path string) (Crate, []string, error) {
	var m struct {
		Package struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
		} `toml:"package"`
		Dependencies      depTable `toml:"dependencies"`
		BuildDependencies depTable `toml:"build-dependencies"`
		Target            map[string]struct {
			Dependencies      depTable `toml:"dependencies"`
			BuildDependencies depTable `toml:"build-dependencies"`
		} `toml:"target"`
	}
	if _, err := toml.DecodeFile(path, &m); err != nil {
		return Crate{}, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if m.Package.Name == "" || m.Package.Version == "" {
		return Crate{}, nil, errors.New(path + ": no package name or version")
	}
	deps := append(m.Dependencies.names(), m.BuildDependencies.names()...)
	for _, t := range m.Target {
		deps = append(deps, t.Dependencies.names()...)
		deps = append(deps, t.BuildDependencies.names()...)
	}
	return Crate{Name: m.Package.Name, Version: m.Package.Version}, deps, nil
}

// All returns every crate version, sorted by name then version.
func (s *Source) All() []Crate {
	var out []Crate
	for name, vers := range s.crates {
		for _, v := range vers {
			out = append(out, Crate{Name: name, Version: v})
		}
	}
	slices.SortFunc(out, compareCrates)
	return out
}

// Lookup returns name at version, or its newest version when version is "".
func (s *Source) Lookup(name, version string) (Crate, error) {
	vers, ok := s.crates[name]
	if !ok {
		return Crate{}, fmt.Errorf("unknown crate %q: not in crate source %s", name, s.Dir)
	}
	if version == "" {
		// The newest release; a pre-release only if there is nothing else,
		// as cargo picks for a bare version requirement.
		newest := vers[len(vers)-1]
		for _, v := range slices.Backward(vers) {
			if !streams.IsPrerelease(v) {
				newest = v
				break
			}
		}
		return Crate{Name: name, Version: newest}, nil
	}
	if !slices.Contains(vers, version) {
		return Crate{}, fmt.Errorf("unknown crate %s@%s: crate source %s has versions %v", name, version, s.Dir, vers)
	}
	return Crate{Name: name, Version: version}, nil
}

func compareCrates(a, b Crate) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), streams.CompareVersions(a.Version, b.Version))
}
