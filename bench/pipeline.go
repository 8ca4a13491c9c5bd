package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/uploader"
)

// crateSource writes a registry of n crates (bench-00000@1.0.0, ...) with
// manifests only: enough for the producer to select them and for a
// builder to prepare their jobs.
func crateSource(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("bench-%05d", i)
		d := filepath.Join(dir, name+"-1.0.0")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		manifest := fmt.Sprintf("[package]\nname = %q\nversion = \"1.0.0\"\n", name)
		if err := os.WriteFile(filepath.Join(d, "Cargo.toml"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// create creates an experiment over every crate of src, check-only, on
// stable and nightly, with the producer.
func (f *farm) create(name, src string) int {
	f.t.Helper()
	out, err := producer.New(f.js, quiet(f.t)).Create(context.Background(), producer.Request{
		Name: name, Toolchains: []string{"stable", "nightly"}, Mode: "check-only", Crates: "all", CrateSource: src,
	})
	if err != nil {
		f.t.Fatalf("create experiment %s: %v", name, err)
	}
	return out.Added
}

// stepRunner is a builder.Runner without isolation: each task calls step,
// which may write the task's output. It measures the pipeline around the
// sandbox, not the sandbox.
type stepRunner struct {
	step func(t sandbox.Task) // nil: every task succeeds at once, silently
}

func (r stepRunner) Run(ctx context.Context, t sandbox.Task) (sandbox.Exit, error) {
	if r.step != nil {
		r.step(t)
	}
	return sandbox.Exit{}, ctx.Err()
}

func (stepRunner) Cleanup(context.Context, func(string) bool) error { return nil }

// startBuilder runs a builder with the given runner and slots.
func (f *farm) startBuilder(r builder.Runner, slots int) {
	f.t.Helper()
	b, err := builder.New(builder.Config{ // warnings such as "no rustc beside /bin/true" are noise here
		ID: "bench", Slots: slots, WorkDir: f.t.TempDir(), CargoPath: "/bin/true",
		MinFreeDiskBytes: -1, MaxLogBytes: -1, // the logs row measures a 256 MiB log
	}, f.nc, r, quiet(f.t).Level(zerolog.ErrorLevel))
	if err != nil {
		f.t.Fatalf("new builder: %v", err)
	}
	run(f.t, "builder", b.Run)
}

// startUploader runs an uploader replica in this process.
func (f *farm) startUploader(st store.Store) {
	f.t.Helper()
	u, err := uploader.New(uploader.Config{Name: "bench"}, f.nc, st, quiet(f.t))
	if err != nil {
		f.t.Fatalf("new uploader: %v", err)
	}
	run(f.t, "uploader", u.Run)
}

// startReporter runs the reporter in this process with its defaults.
func (f *farm) startReporter(st store.Store) {
	f.t.Helper()
	r, err := reporter.New(reporter.Config{}, f.nc, st, quiet(f.t))
	if err != nil {
		f.t.Fatalf("new reporter: %v", err)
	}
	run(f.t, "reporter", r.Run)
}

// writeTimes writes size bytes of src to w in writes of at most chunk
// bytes, as a chatty task would, and notes when it started.
type firstWrite struct {
	mu sync.Mutex
	at time.Time
}

func (f *firstWrite) mark() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at.IsZero() {
		f.at = time.Now()
	}
}

func (f *firstWrite) time() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at
}

func writeN(w io.Writer, src io.Reader, size int64, chunk int) {
	buf := make([]byte, chunk)
	for size > 0 {
		n := int(min(int64(chunk), size))
		io.ReadFull(src, buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		size -= int64(n)
	}
}
