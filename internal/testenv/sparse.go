package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"
)

// SparseRegistry is a crates.io-style sparse registry served over HTTP on
// loopback: an index with one file per crate and the .crate files it
// lists, packed from a local directory source.
type SparseRegistry struct {
	// Source is the registry in cargo's notation, for --crate-source.
	Source string
	// Index is the index URL (Source without "sparse+").
	Index string

	mu        sync.Mutex
	index     map[string][]byte // index path → file
	crates    map[string][]byte // "name/version" → .crate file
	tampered  map[string]bool
	downloads map[string]int
}

// ServeSparseRegistry packs every crate version of the directory source
// dir into a .crate file (a gzipped tar, as `cargo package` writes) and
// serves them with an index whose entries come from their manifests, until
// the test ends.
func ServeSparseRegistry(t testing.TB, dir string) *SparseRegistry {
	t.Helper()
	r := &SparseRegistry{index: map[string][]byte{}, crates: map[string][]byte{}, tampered: map[string]bool{}, downloads: map[string]int{}}
	manifests, err := filepath.Glob(filepath.Join(dir, "*", "Cargo.toml"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("sparse registry: no crates under %s: %v", dir, err)
	}
	for _, m := range manifests {
		entry, crate, err := packCrate(filepath.Dir(m))
		if err != nil {
			t.Logf("sparse registry: skipping %s: %v", filepath.Dir(m), err)
			continue
		}
		line, err := json.Marshal(entry)
		if err != nil {
			t.Fatal(err)
		}
		p := indexPath(entry.Name)
		r.index[p] = append(append(r.index[p], line...), '\n')
		r.crates[entry.Name+"/"+entry.Vers] = crate
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	r.Index = base + "/index/"
	r.Source = "sparse+" + r.Index
	mux := http.NewServeMux()
	config := fmt.Sprintf(`{"dl": %q}`, base+"/crates")
	mux.HandleFunc("GET /index/config.json", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(config)) })
	mux.HandleFunc("GET /index/", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		data, ok := r.index[strings.TrimPrefix(req.URL.Path, "/index/")]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(data)
	})
	mux.HandleFunc("GET /crates/{name}/{version}/download", func(w http.ResponseWriter, req *http.Request) {
		key := req.PathValue("name") + "/" + req.PathValue("version")
		r.mu.Lock()
		data, ok := r.crates[key]
		if ok && r.tampered[key] {
			data = append(bytes.Clone(data), 0)
		}
		r.downloads[key]++
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(data)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// Tamper makes the registry serve a .crate file for name@version that no
// longer matches the index's checksum.
func (r *SparseRegistry) Tamper(name, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tampered[name+"/"+version] = true
}

// Downloads is how often the .crate file of name@version was requested.
func (r *SparseRegistry) Downloads(name, version string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downloads[name+"/"+version]
}

// TotalDownloads is how many .crate files were requested in all.
func (r *SparseRegistry) TotalDownloads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.downloads {
		n += d
	}
	return n
}

// indexPath is the sparse index's file path of a crate (1/a, 2/ab, 3/a/abc,
// ab/cd/abcd), written out here so the registry client is not its own test.
func indexPath(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 1, 2:
		return fmt.Sprint(len(n)) + "/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	}
	return n[:2] + "/" + n[2:4] + "/" + n
}

// indexEntry is one line of a crate's index file (cargo's registry index
// format, v2 for the features that use "dep:").
type indexEntry struct {
	Name      string              `json:"name"`
	Vers      string              `json:"vers"`
	Deps      []indexDep          `json:"deps"`
	Cksum     string              `json:"cksum"`
	Features  map[string][]string `json:"features"`
	Features2 map[string][]string `json:"features2,omitempty"`
	Yanked    bool                `json:"yanked"`
	Links     *string             `json:"links"`
	V         int                 `json:"v"`
}

type indexDep struct {
	Name            string   `json:"name"`
	Req             string   `json:"req"`
	Features        []string `json:"features"`
	Optional        bool     `json:"optional"`
	DefaultFeatures bool     `json:"default_features"`
	Target          *string  `json:"target"`
	Kind            string   `json:"kind"`
	Package         *string  `json:"package,omitempty"`
}

// packCrate packs crate dir into a .crate file and describes it for the
// index from its (normalized, as published) manifest.
func packCrate(dir string) (indexEntry, []byte, error) {
	var m map[string]any
	if _, err := toml.DecodeFile(filepath.Join(dir, "Cargo.toml"), &m); err != nil {
		return indexEntry{}, nil, err
	}
	pkg, _ := m["package"].(map[string]any)
	name, _ := pkg["name"].(string)
	vers, _ := pkg["version"].(string)
	if name == "" || vers == "" {
		return indexEntry{}, nil, fmt.Errorf("manifest without a package name and version")
	}
	e := indexEntry{Name: name, Vers: vers, Deps: []indexDep{}, Features: map[string][]string{}, Features2: map[string][]string{}, V: 2}
	if links, ok := pkg["links"].(string); ok {
		e.Links = &links
	}
	addDeps(&e, m, nil)
	if targets, ok := m["target"].(map[string]any); ok {
		for cfg, tm := range targets {
			if tm, ok := tm.(map[string]any); ok {
				addDeps(&e, tm, &cfg)
			}
		}
	}
	if feats, ok := m["features"].(map[string]any); ok {
		for f, list := range feats {
			e.Features2[f] = stringList(list)
		}
	}
	data, err := tarCrate(dir, name+"-"+vers)
	if err != nil {
		return indexEntry{}, nil, err
	}
	sum := sha256.Sum256(data)
	e.Cksum = hex.EncodeToString(sum[:])
	return e, data, nil
}

func addDeps(e *indexEntry, tables map[string]any, target *string) {
	kinds := map[string]string{
		"dependencies": "normal", "build-dependencies": "build", "build_dependencies": "build",
		"dev-dependencies": "dev", "dev_dependencies": "dev",
	}
	for table, kind := range kinds {
		deps, _ := tables[table].(map[string]any)
		for key, spec := range deps {
			d := indexDep{Name: key, Req: "*", Features: []string{}, DefaultFeatures: true, Target: target, Kind: kind}
			switch s := spec.(type) {
			case string:
				d.Req = s
			case map[string]any:
				if v, ok := s["version"].(string); ok {
					d.Req = v
				} else if _, isPath := s["path"]; isPath {
					continue // not published with the crate
				}
				d.Features = stringList(s["features"])
				d.Optional, _ = s["optional"].(bool)
				for _, k := range []string{"default-features", "default_features"} {
					if b, ok := s[k].(bool); ok {
						d.DefaultFeatures = b
					}
				}
				if p, ok := s["package"].(string); ok {
					d.Package = &p
				}
			}
			e.Deps = append(e.Deps, d)
		}
	}
}

func stringList(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// tarCrate packs dir under prefix/, as `cargo package` does: regular files
// only (links followed), no target dir, no directory source bookkeeping.
func tarCrate(dir, prefix string) ([]byte, error) {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "target" || rel == "debian" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == ".cargo-checksum.json" || rel == ".cargo_vcs_info.json" {
			return nil
		}
		data, err := os.ReadFile(p) // follows links, as cargo package does
		if err != nil {
			return err
		}
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: path.Join(prefix, filepath.ToSlash(rel)), Mode: int64(info.Mode().Perm()), Size: int64(len(data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
