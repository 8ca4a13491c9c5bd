package cargo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseFeatures(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want []string
	}{
		{"#![feature(never_type)]", []string{"never_type"}},
		{"#![feature(a, b)]\n#![feature(c)]", []string{"a", "b", "c"}},
		{"# ! [ feature ( spaced ,\n  lines, ) ]", []string{"spaced", "lines"}},
		{"#[feature(outer)] fn f() {}", []string{"outer"}},
		{"#![allow(dead_code)]\n#![cfg_attr(x, feature(y))]", nil}, // crater's scan does not look inside cfg_attr
		{"#![feature]", nil},
		{"#![feature(unclosed", nil},
		{"let s = \"#\"; #![feature(after_hash)]", []string{"after_hash"}},
	} {
		if got := parseFeatures(tt.src); !slices.Equal(got, tt.want) {
			t.Errorf("parseFeatures(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

// The scan covers every .rs file of the fixture, nested modules included,
// and lists each feature once, sorted.
func TestScanFeatures(t *testing.T) {
	got, err := scanFeatures(filepath.Join("..", "..", "testdata", "crates", "ejecta-mode-features-0.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"box_patterns", "decl_macro", "never_type", "test"}; !slices.Equal(got, want) {
		t.Errorf("features %q, want %q", got, want)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "x.rs"), []byte("#![feature(hidden)]"), 0o644)
	os.WriteFile(filepath.Join(dir, "build.rs.in"), []byte("#![feature(template)]"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("#![feature(docs)]"), 0o644)
	got, err = scanFeatures(dir)
	if err != nil || !slices.Equal(got, []string{"template"}) {
		t.Errorf("features %q (%v), want [template]: hidden dirs and non-.rs files skipped", got, err)
	}
}

func TestScanFeaturesThroughSymlink(t *testing.T) {
	abs, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "crates", "ejecta-mode-features-0.1.0"))
	link := filepath.Join(t.TempDir(), "ejecta-mode-features-0.1.0")
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	if got, err := scanFeatures(link); err != nil || len(got) != 4 {
		t.Errorf("features through a symlink: %q (%v)", got, err)
	}
}
