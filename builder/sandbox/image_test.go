package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/leases"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/snapshots"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/opencontainers/image-spec/identity"
)

// newImageEnv is newEnv with tasks rooted in a fresh test image, imported
// from a tarball the test writes.
func newImageEnv(t *testing.T) (*env, string) {
	t.Helper()
	tarball := filepath.Join(t.TempDir(), "image.tar")
	writeOCIImage(t, tarball, map[string][]byte{"bin/hello": buildImageProgram(t)})
	addr := testenv.StartContainerd(t)
	cfg := Config{
		Address:   addr,
		Namespace: testenv.ContainerdNamespace(t),
		FIFODir:   filepath.Join(t.TempDir(), "fifo"),
		Rootfs:    "image:" + tarball,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return &env{address: addr, cfg: cfg, sb: sb}, tarball
}

// taskSnapshots lists the snapshots that are not image layers.
func (e *env) taskSnapshots(t *testing.T) []string {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), e.cfg.Namespace)
	var keys []string
	err := e.sb.client.SnapshotService(e.sb.snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind != snapshots.KindCommitted {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func imageTask(t *testing.T) Task {
	tk := task(t)
	tk.Args = []string{"/bin/hello", tk.Dir}
	tk.Env = []string{"PATH=/bin"}
	return tk
}

// A task in image mode runs the image's program on the image's root,
// read-only, with /tmp and the job dir writable, and its output arrives
// byte for byte; its snapshot is gone once Run returns.
func TestRunImageRootfs(t *testing.T) {
	t.Parallel()
	e, tarball := newImageEnv(t)

	tk := imageTask(t)
	r := e.mustRun(t, tk)
	if r.exit != (Exit{}) || r.stdout != imageProgramStdout || r.stderr != "to stderr\n" {
		t.Errorf("exit %+v\nstdout %q\nwant   %q\nstderr %q", r.exit, r.stdout, imageProgramStdout, r.stderr)
	}
	if keys := e.taskSnapshots(t); len(keys) != 0 {
		t.Errorf("snapshots left after the run: %v", keys)
	}
	e.assertEmpty(t)
	// The same ID again: nothing of the first run is in the way.
	if r := e.mustRun(t, tk); r.stdout != imageProgramStdout {
		t.Errorf("second run: stdout %q", r.stdout)
	}

	// A second builder on the same daemon uses the image by reference.
	t.Run("by reference", func(t *testing.T) {
		cfg := e.cfg
		cfg.Rootfs = "image:" + importedName(tarball)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sb, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		byRef := &env{address: e.address, cfg: cfg, sb: sb}
		if r := byRef.mustRun(t, imageTask(t)); r.stdout != imageProgramStdout {
			t.Errorf("stdout %q, want %q", r.stdout, imageProgramStdout)
		}
	})
}

// Cleanup in image mode removes the crashed containers' snapshots and a
// snapshot whose container was never made, and nothing that owns rejects.
func TestCleanupImageSnapshots(t *testing.T) {
	t.Parallel()
	e, _ := newImageEnv(t)
	ctx := namespaces.WithNamespace(context.Background(), e.cfg.Namespace)

	crash := func(id string) {
		tk := imageTask(t)
		tk.ID = id
		tk.Args = []string{"/bin/hello", "/nonexistent"} // exits at once; the task stays until deleted
		leaveStarted(t, ctx, e.sb, e.cfg.FIFODir, tk)
	}
	crash("crashed-1")
	crash("crashed-10") // what a prefix match of "crashed-1" would take
	// A builder that died inside NewContainer: the snapshot exists under
	// the client's day-long lease, no container refers to it.
	lctx, err := leaseContext(ctx, e.sb.client)
	if err != nil {
		t.Fatal(err)
	}
	diffIDs, err := e.sb.image.RootFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.client.SnapshotService(e.sb.snapshotter).Prepare(lctx, "crashed-2", identity.ChainID(diffIDs).String()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.taskSnapshots(t), " "); got != "crashed-1 crashed-10 crashed-2" {
		t.Fatalf("snapshots before Cleanup: %s", got)
	}

	owns := func(id string) bool { return id == "crashed-1" || id == "crashed-2" }
	if err := e.sb.Cleanup(context.Background(), owns); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if got := strings.Join(e.taskSnapshots(t), " "); got != "crashed-10" {
		t.Errorf("snapshots after Cleanup = %q, want crashed-10", got)
	}
	ctrs, err := e.sb.client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctrs) != 1 || ctrs[0].ID() != "crashed-10" {
		t.Errorf("containers after Cleanup: %d, want crashed-10 alone", len(ctrs))
	}
	// The IDs work again.
	tk := imageTask(t)
	tk.ID = "crashed-2"
	if r := e.mustRun(t, tk); r.stdout != imageProgramStdout {
		t.Errorf("rerun of crashed-2: stdout %q", r.stdout)
	}
	if err := e.sb.Cleanup(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if keys := e.taskSnapshots(t); len(keys) != 0 {
		t.Errorf("snapshots after Cleanup(all): %v", keys)
	}
	e.assertEmpty(t)
}

// leaseContext is ctx under a new lease with containerd's default expiry
// (a day), as the client takes one around NewContainer.
func leaseContext(ctx context.Context, client *containerd.Client) (context.Context, error) {
	l, err := client.LeasesService().Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour))
	if err != nil {
		return nil, err
	}
	return leases.WithLease(ctx, l.ID), nil
}

// A bad Rootfs is refused at New with an error naming it.
func TestRootfsConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		rootfs string
		want   string // in the error
	}{
		{"docker://alpine", "want \"host\" or \"image:PATH_OR_REF\""},
		{"image:", "want \"host\" or \"image:PATH_OR_REF\""},
		{"image:" + dir, "not a regular file"},
		{"image:" + filepath.Join(dir, "missing.tar"), "no such file"},
		{"image:./missing.tar", "no such file"},
	}
	for _, tt := range tests {
		_, err := New(context.Background(), Config{Address: "/nonexistent.sock", FIFODir: dir, Rootfs: tt.rootfs})
		if err == nil || !strings.Contains(err.Error(), "Config.Rootfs") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Rootfs %q: err = %v, want it to name Config.Rootfs and say %q", tt.rootfs, err, tt.want)
		}
	}

	t.Run("unknown reference", func(t *testing.T) {
		addr := testenv.StartContainerd(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := New(ctx, Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: dir, Rootfs: "image:example.org/nothing:1"})
		if err == nil || !strings.Contains(err.Error(), "example.org/nothing:1") || !strings.Contains(err.Error(), "not in containerd") {
			t.Errorf("err = %v, want it to say the image is not in containerd", err)
		}
	})

	t.Run("not an image", func(t *testing.T) {
		addr := testenv.StartContainerd(t)
		junk := filepath.Join(dir, "junk.tar")
		if err := os.WriteFile(junk, []byte("not a tarball"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := New(ctx, Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: dir, Rootfs: "image:" + junk})
		if err == nil || !strings.Contains(err.Error(), "import image tarball") {
			t.Errorf("err = %v, want an import failure", err)
		}
	})
}
