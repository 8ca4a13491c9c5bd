package producer_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/producer"
)

// registryWithDeps writes a directory registry where each crate lists
// the given normal dependencies. Keys are name@version.
func registryWithDeps(t *testing.T, crates map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	for c, deps := range crates {
		name, ver, _ := strings.Cut(c, "@")
		d := filepath.Join(dir, name+"-"+ver)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("[package]\nname = \"" + name + "\"\nversion = \"" + ver + "\"\n\n[dependencies]\n")
		for _, dep := range deps {
			// "alias=real" writes a renamed dependency.
			if alias, real, ok := strings.Cut(dep, "="); ok {
				b.WriteString(alias + " = { version = \"1\", package = \"" + real + "\" }\n")
				continue
			}
			b.WriteString(dep + " = \"1\"\n")
		}
		if err := os.WriteFile(filepath.Join(d, "Cargo.toml"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(cs []producer.Crate) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return strings.Join(out, ",")
}

func TestSelectTopNRanksByReverseDependencies(t *testing.T) {
	// Dependents: core 4 (one through a renamed dependency, one from two
	// versions of the same crate, counted once), util 3, log 2, tiny 1.
	src, err := producer.ScanSource(registryWithDeps(t, map[string][]string{
		"core@1.0.0": nil, "util@0.2.0": {"core"}, "log@0.4.0": {"core", "util"},
		"app@1.0.0": {"core", "util", "log"}, "app@1.1.0": {"core", "util", "log"},
		"cli@2.0.0": {"c=core", "util", "log", "tiny"}, "tiny@0.1.0": nil, "lone@0.0.1": nil,
	}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec, skip, want string
	}{
		{"top-1", "", "core@1.0.0"},
		{"top-3", "", "core@1.0.0,log@0.4.0,util@0.2.0"},
		{"top-4", "", "core@1.0.0,log@0.4.0,tiny@0.1.0,util@0.2.0"},
		// Ties (0 dependents: app, cli, lone) are broken by name.
		{"top-6", "", "app@1.1.0,cli@2.0.0,core@1.0.0,log@0.4.0,tiny@0.1.0,util@0.2.0"},
		// Skipping happens before the ranking: still three crates.
		{"top-3", "util", "core@1.0.0,log@0.4.0,tiny@0.1.0"},
		// Skipping the newest version of app drops app from the draw.
		{"top-6", "app@1.1.0", "cli@2.0.0,core@1.0.0,log@0.4.0,lone@0.0.1,tiny@0.1.0,util@0.2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/skip="+tt.skip, func(t *testing.T) {
			got, err := producer.SelectWith(tt.spec, src, producer.SelectOptions{Skip: tt.skip})
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tt.want {
				t.Errorf("got %s\nwant %s", names(got), tt.want)
			}
		})
	}
}

func TestSelectTopNRanksByDownloadsFile(t *testing.T) {
	src, err := producer.ScanSource(fakeRegistry(t, "a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "downloads.csv")
	// A header, a crate the source lacks, and d missing (counts 0).
	data := "name,downloads\nc,900\na,50\nb,700\nnot-here,99999\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	dl, err := producer.ReadDownloads(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := producer.SelectWith("top-2", src, producer.SelectOptions{Downloads: dl})
	if err != nil {
		t.Fatal(err)
	}
	if names(got) != "b@1.0.0,c@1.0.0" {
		t.Errorf("top-2 by downloads = %s, want b and c", names(got))
	}
}

func TestSelectRandomIsReproducible(t *testing.T) {
	var crates []string
	for _, n := range strings.Fields("a b c d e f g h i j k l m n o p q r s t") {
		crates = append(crates, n+"@1.0.0")
	}
	src, err := producer.ScanSource(fakeRegistry(t, crates...))
	if err != nil {
		t.Fatal(err)
	}
	draw := func(spec string) string {
		got, err := producer.SelectWith(spec, src, producer.SelectOptions{Skip: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("%s: %d crates, want 5", spec, len(got))
		}
		if slices.ContainsFunc(got, func(c producer.Crate) bool { return c.Name == "a" }) {
			t.Fatalf("%s: skipped crate a was drawn: %s", spec, names(got))
		}
		return names(got)
	}
	first := draw("random-5:42")
	if again := draw("random-5:42"); again != first {
		t.Errorf("random-5:42 drew %s, then %s", first, again)
	}
	if other := draw("random-5:43"); other == first {
		t.Errorf("seeds 42 and 43 drew the same crates %s", first)
	}
}

func TestSelectRefusesBadSpecsNamingThem(t *testing.T) {
	src, err := producer.ScanSource(fakeRegistry(t, "a@1.0.0", "b@1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ spec, skip, want string }{
		{"top-0", "", `count "0" is not a positive integer`},
		{"top-x", "", `count "x" is not a positive integer`},
		{"top-3", "", "top-3: crate source " + src.Dir + " holds only 2 crates"},
		{"random-1", "", "want random-N:SEED"},
		{"random-1:-4", "", `seed "-4" is not a non-negative integer`},
		{"random-3:1", "", "random-3: crate source " + src.Dir + " holds only 2 crates"},
		{"a", "zzz", "skip: unknown crate(s) zzz"},
		{"a", "a@9.9.9", "skip: unknown crate(s) a@9.9.9"},
		{"a", "a", `selection is empty once --skip is applied to "a"`},
		{"top-2", "b", "top-2: crate source " + src.Dir + " holds only 1 crates"},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/skip="+tt.skip, func(t *testing.T) {
			_, err := producer.SelectWith(tt.spec, src, producer.SelectOptions{Skip: tt.skip})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadDownloadsNamesTheBadLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dl.csv")
	if err := os.WriteFile(file, []byte("serde,10\nrand,lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := producer.ReadDownloads(file)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), `"lots"`) {
		t.Errorf("error = %v, want it to name line 2 and \"lots\"", err)
	}
}

// Versions sort as semver: rc.10 is newer than rc.2, a release newer than
// both, and a bare name picks the newest release.
func TestSourceVersionOrder(t *testing.T) {
	src, err := producer.ScanSource(fakeRegistry(t, "a@1.0.0-rc.2", "a@1.0.0-rc.10", "a@0.9.0", "b@2.0.0-rc.10", "b@2.0.0-rc.2"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range src.All() {
		got = append(got, c.String())
	}
	want := []string{"a@0.9.0", "a@1.0.0-rc.2", "a@1.0.0-rc.10", "b@2.0.0-rc.2", "b@2.0.0-rc.10"}
	if !slices.Equal(got, want) {
		t.Errorf("All() = %q, want %q", got, want)
	}
	for name, newest := range map[string]string{"a": "0.9.0", "b": "2.0.0-rc.10"} {
		if c, err := src.Lookup(name, ""); err != nil || c.Version != newest {
			t.Errorf("Lookup(%q, \"\") = %v, %v; want version %s", name, c, err, newest)
		}
	}
}
