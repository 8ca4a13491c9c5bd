package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// A build, as its slot's unprivileged user in the real sandbox, plants
// links to host paths in its shared target. The builder measures the
// target before the next build, purges it when that one times out, and
// measures it again before the one after: it follows none of the links,
// and what they point to is intact.
func TestSharedTargetLinksAreNotFollowed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	const sentinel = "/var/tmp/ejecta-linkplant-sentinel" // named in the crate's build.rs
	if err := os.MkdirAll(sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sentinel) })
	keep := filepath.Join(sentinel, "keep")
	if err := os.WriteFile(keep, []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}

	nc, js := startJetStream(t, streams.DefaultConfig())
	reg := testdataRegistry(t)
	job := func(exp, crate string) streams.Job {
		return streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: exp, Crate: crate, Version: "0.1.0", Toolchain: "stable"},
			Mode: streams.ModeCheckOnly, CrateSource: reg}
	}
	plant, next := job("e2e-links", "ejecta-linkplant"), job("e2e-links", "ejecta-typeerr")
	// Killed by its timeout in its build script's nap.
	nap := job("e2e-links-short", "ejecta-nap")
	nap.Limits.Timeout = streams.Duration(3 * time.Second)

	work := testenv.DurableTempDir(t)
	startBuilder(t, nc, Config{ID: "e2e-links", Slots: 1, WorkDir: work, InProgressEvery: time.Second})
	results, err := js.OrderedConsumer(context.Background(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	build := func(j streams.Job) (streams.Result, string) {
		t.Helper()
		publishJob(t, js, j)
		var r streams.Result
		nextJSON(t, results, 3*time.Minute, &r)
		return r, logText(t, js, j.BuildKey, 1, r.Status)
	}
	dir := filepath.Join(workspace.SharedTargetsDir(work, "e2e-links"), workspace.SharedTargetName(0, "stable"))
	planted := []string{"sentinel", "root", "up", "debug/deps/sentinel-file"}

	if r, text := build(plant); r.Status != streams.StatusTestPass || !r.SharedTarget {
		t.Fatalf("the planting build: %+v\n%s", r, text)
	}
	for _, name := range planted {
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s not planted in the shared target: %v, %v", name, fi, err)
		}
	}
	// Measured with the links in it: had the measure followed "root",
	// it would count the host's whole disk.
	r, text := build(nap)
	if r.Reason != streams.ReasonTimeout || !r.SharedTarget {
		t.Errorf("the build killed by its timeout: %+v", r)
	}
	var mib int
	if _, after, ok := strings.Cut(text, "target: slot 0's shared stable target, "); !ok {
		t.Errorf("the build after the planting one does not say which target it had:\n%s", text)
	} else if _, err := fmt.Sscanf(after, "%d MiB", &mib); err != nil || mib > 100 {
		t.Errorf("the shared target measured %d MiB (%v) with links planted: a link was followed", mib, err)
	}
	t.Logf("shared target with the links planted: %d MiB", mib)
	if !strings.Contains(text, "shared target purged: the attempt did not end by itself") {
		t.Errorf("the killed build's log does not say its shared target was purged:\n%s", text)
	}
	if r, text := build(next); r.Reason != "compiler-error(E0308)" || !r.SharedTarget ||
		!strings.Contains(text, "target: slot 0's shared stable target, 0 MiB built by earlier jobs") {
		t.Errorf("the build after the purge: %+v, want its own verdict in an emptied shared target:\n%s", r, text)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "host file" {
		t.Errorf("%s after the purge: %q, %v; want it intact", keep, b, err)
	}
	for _, name := range planted {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s still in the shared target after the purge: %v", name, err)
		}
	}
}
