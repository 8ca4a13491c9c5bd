package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// TestBuildEnvironmentImage makes the build environment image with
// deploy/build-env/build.sh, from Debian's archive, as an operator does
// (the minimal package list: a C toolchain, pkg-config and zlib; the full
// list is the same recipe with more packages, each checked to exist), and
// runs a real crate in it through a builder started with --rootfs
// image:PATH: its build script finds zlib with pkg-config, rustc links it
// with the image's cc, and its tests call zlib and read the image's own
// marker file. Each log says the build had the image as its root.
func TestBuildEnvironmentImage(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a Debian root with debootstrap")
	}
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "debootstrap needs root")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		testenv.Unavailable(t, "debootstrap: %v (apt-get install debootstrap)", err)
	}
	repo := testenv.RepoRoot(t)
	recipe := filepath.Join(repo, "deploy", "build-env")
	checkPackagesExist(t, filepath.Join(recipe, "packages"))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	image := filepath.Join(testenv.DurableTempDir(t), "build-env.tar")
	start := time.Now()
	build := exec.CommandContext(ctx, "bash", filepath.Join(recipe, "build.sh"), "--packages", filepath.Join(recipe, "packages-minimal"), image)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Logf("build environment image made in %s", time.Since(start).Round(time.Second))

	source := filepath.Join(testenv.DurableTempDir(t), "registry")
	crate := filepath.Join(source, "ejecta-buildenv-zlib-0.1.0")
	if err := os.CopyFS(crate, os.DirFS(filepath.Join(repo, "testdata", "build-env", filepath.Base(crate)))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crate, ".cargo-checksum.json"), []byte(`{"package":"","files":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var st store.Store
	f := startFarmWith(t, ctx, testfarm.Config{Name: "buildenv", Rootfs: "image:" + image, Reporter: reporter.Config{Confirmations: -1}}, fileStore(&st))
	if _, err := producer.New(f.js, f.log).Create(ctx, producer.Request{
		Name: "buildenv", Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeBuildAndTest),
		Crates: "ejecta-buildenv-zlib", CrateSource: source,
	}); err != nil {
		t.Fatal(err)
	}
	rep := waitReport(ctx, t, f, st, "buildenv", 2)
	if c := rep.Crates[0]; c.Class != string(results.ClassSameTestPass) {
		t.Errorf("ejecta-buildenv-zlib: %s, want same-test-pass", c.Class)
	}
	for _, tc := range []string{"stable", "nightly"} {
		k := streams.BuildKey{Experiment: "buildenv", Crate: "ejecta-buildenv-zlib", Version: "0.1.0", Toolchain: tc}
		log, err := readObject(ctx, t, st, streams.ExperimentPrefix("buildenv")+streams.LogObjectKey(k, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"sandbox: image tarball " + image + " as root, read-only",
			// cargo's own lines go to stderr and may land inside a test's
			// line on stdout ("test x ... <Running ...> ok"), so the summary
			// is what is checked: both tests ran and passed.
			"test result: ok. 2 passed; 0 failed",
			"finished: test-pass",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("%s log lacks %q:\n%s", tc, want, log)
			}
		}
	}
}

// checkPackagesExist asks apt for every package a recipe list names, so
// that a misspelt package fails here rather than on an operator's build.
func checkPackagesExist(t *testing.T, list string) {
	t.Helper()
	if _, err := exec.LookPath("apt-cache"); err != nil {
		testenv.Unavailable(t, "apt-cache: %v", err)
	}
	f, err := os.Open(list)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkgs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			pkgs = append(pkgs, l)
		}
	}
	for _, p := range pkgs {
		if out, err := exec.Command("apt-cache", "show", "--no-all-versions", p).CombinedOutput(); err != nil || len(out) == 0 {
			t.Errorf("%s names %s, which apt does not know: %v %s", list, p, err, out)
		}
	}
}
