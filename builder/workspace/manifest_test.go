package workspace

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestTrimForResolution(t *testing.T) {
	ws := testWorkspace(t)
	manifest := filepath.Join(ws.dir, "Cargo.toml")
	os.WriteFile(manifest, []byte(`[package]
name = "x"
version = "1.0.0"

[dependencies]
cfg-if = "1"
serde = { version = "1", optional = true }
log = { version = "0.4", optional = true }
core = { version = "1", optional = true, package = "rustc-std-workspace-core" }
extra = { version = "1", optional = true }

[features]
default = ["std"]
std = ["dep:serde", "log/std"]
rustc-dep-of-std = ["core"]
extras = ["extra?/more", "dep:extra"]

[dev-dependencies]
quickcheck = "1"

[target.'cfg(unix)'.dependencies]
libc = "0.2"

[target.'cfg(unix)'.dev-dependencies]
tempfile = "3"

[workspace]
`), 0o644)
	dropped, err := ws.TrimForResolution("Cargo.toml")
	if want := []string{"core", "dev-dependencies", "extra"}; err != nil || !slices.Equal(dropped, want) {
		t.Fatalf("dropped %q, err %v; want %q", dropped, err, want)
	}
	var m struct {
		Package      map[string]any            `toml:"package"`
		Dependencies map[string]any            `toml:"dependencies"`
		DevDeps      map[string]any            `toml:"dev-dependencies"`
		Features     map[string][]string       `toml:"features"`
		Target       map[string]map[string]any `toml:"target"`
		Workspace    map[string]any            `toml:"workspace"`
	}
	if _, err := toml.DecodeFile(manifest, &m); err != nil {
		t.Fatal(err)
	}
	unix := m.Target["cfg(unix)"]
	if m.Package["name"] != "x" || m.DevDeps != nil || m.Workspace == nil ||
		unix["dependencies"] == nil || unix["dev-dependencies"] != nil {
		t.Errorf("manifest after trimming: %+v", m)
	}
	var deps []string
	for d := range m.Dependencies {
		deps = append(deps, d)
	}
	slices.Sort(deps)
	if want := []string{"cfg-if", "log", "serde"}; !slices.Equal(deps, want) {
		t.Errorf("dependencies %q, want %q (the default features' optional ones kept)", deps, want)
	}
	if !slices.Equal(m.Features["std"], []string{"dep:serde", "log/std"}) || len(m.Features["rustc-dep-of-std"]) != 0 ||
		len(m.Features["extras"]) != 0 {
		t.Errorf("features %v", m.Features)
	}
	// Nothing left to drop: the manifest is left as it is.
	if dropped, err := ws.TrimForResolution("Cargo.toml"); err != nil || dropped != nil {
		t.Errorf("second trim: dropped %q, err %v", dropped, err)
	}
}

// A registry crate's manifest keeps only what its registry serves.
func TestRegistryOnly(t *testing.T) {
	ws := testWorkspace(t)
	os.WriteFile(filepath.Join(ws.dir, "Cargo.toml"), []byte(`[package]
name = "x"
version = "1.0.0"

[dependencies]
cfg-if = "1"
log = { version = "0.4", features = ["std"] }
near = { path = "../near" }
remote = { git = "http://127.0.0.1:4222/remote.git" }
other = { version = "1", registry = "intranet" }

[dev-dependencies]
fixture = { git = "ssh://git@intranet/fixture.git", branch = "main" }

[target.'cfg(unix)'.build-dependencies]
cc = "1"
local = { path = "/etc" }

[patch.crates-io]
cfg-if = { git = "http://169.254.169.254/latest" }

[replace]
"log:0.4.0" = { git = "http://127.0.0.1/log.git" }

[workspace]
members = ["../../../etc"]
`), 0o644)
	dropped, err := ws.RegistryOnly("Cargo.toml")
	want := []string{"[patch]", "[replace]", "[workspace] members", "fixture (git)", "local (path)", "near (path)", "other (registry)", "remote (git)"}
	if err != nil || !slices.Equal(dropped, want) {
		t.Fatalf("dropped %q, %v; want %q", dropped, err, want)
	}
	var m struct {
		Dependencies map[string]any            `toml:"dependencies"`
		DevDeps      map[string]any            `toml:"dev-dependencies"`
		Target       map[string]map[string]any `toml:"target"`
		Patch        any                       `toml:"patch"`
		Replace      any                       `toml:"replace"`
		Workspace    map[string]any            `toml:"workspace"`
	}
	if _, err := toml.DecodeFile(filepath.Join(ws.dir, "Cargo.toml"), &m); err != nil {
		t.Fatal(err)
	}
	build, _ := m.Target["cfg(unix)"]["build-dependencies"].(map[string]any)
	if len(m.Dependencies) != 2 || m.Dependencies["cfg-if"] == nil || m.Dependencies["log"] == nil || len(m.DevDeps) != 0 ||
		len(build) != 1 || build["cc"] == nil || m.Patch != nil || m.Replace != nil || m.Workspace == nil || len(m.Workspace) != 0 {
		t.Errorf("manifest after: %+v", m)
	}
	// A manifest with nothing to leave out is not rewritten.
	if dropped, err := ws.RegistryOnly("Cargo.toml"); err != nil || dropped != nil {
		t.Errorf("second pass: %q, %v", dropped, err)
	}
}
