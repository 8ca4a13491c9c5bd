// Package testfarm runs the components of a build farm (a builder with two
// slots in a private containerd, an uploader and a reporter) inside a test
// process, for the end-to-end tests of several packages.
package testfarm

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
)

// Config says how the components run.
type Config struct {
	// Name is the builder's ID and the uploader's name.
	Name string
	// Namespace is the containerd namespace of the builds.
	Namespace string
	// BuilderConn, UploaderConn and ReporterConn are the components' NATS
	// connections: one shared, or one per role.
	BuilderConn, UploaderConn, ReporterConn *nats.Conn
	Store                                   store.Store
	Reporter                                reporter.Config
	// Metrics, when set, is where every component registers its collectors.
	Metrics prometheus.Registerer
	// Log is the components' logger. The uploader and reporter name
	// themselves in it; the builder's is named here.
	Log zerolog.Logger
	// Slots is the builder's slots; default 2.
	Slots int
	// SharedTargetBytes is the builder's (builder.Config); default its
	// default, negative for no shared targets.
	SharedTargetBytes int64
	// WorkDir is the builder's work dir; default a new directory.
	WorkDir string
	// Hide are host paths builds must not see, besides the builder's own.
	Hide []string
	// Rootfs is what builds see as their root (sandbox.Config.Rootfs):
	// "" for the host's, "image:PATH" for an image tarball.
	Rootfs string
	// JobKey is the uploader's and reporter's job key (zero: tickets off).
	JobKey streams.JobKey
	// Containerd, when set, is called with the private containerd once it
	// answers, before the builder starts (a benchmark measures its CPU).
	Containerd func(*testenv.Containerd)
}

// Start starts a private containerd and the components of cfg under ctx.
// They stop when t ends, and an error they return fails t.
func Start(t testing.TB, ctx context.Context, cfg Config) {
	t.Helper()
	daemon := testenv.StartContainerdDaemon(t)
	if cfg.Containerd != nil {
		cfg.Containerd(daemon)
	}
	address := daemon.Address
	work := testenv.DurableTempDir(t)
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(work, "jobs")
	}
	if cfg.Slots == 0 {
		cfg.Slots = 2
	}
	bcfg := builder.Config{ID: cfg.Name, Slots: cfg.Slots, WorkDir: cfg.WorkDir, Metrics: cfg.Metrics,
		SharedTargetBytes: cfg.SharedTargetBytes}
	sb, err := sandbox.New(ctx, sandbox.Config{Address: address, Namespace: cfg.Namespace, FIFODir: filepath.Join(work, "fifo"),
		Hide: append(bcfg.HiddenPaths(), cfg.Hide...), Rootfs: cfg.Rootfs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	b, err := builder.New(bcfg,
		cfg.BuilderConn, sb, cfg.Log.With().Str("component", "builder").Logger())
	if err != nil {
		t.Fatal(err)
	}
	u, err := uploader.New(uploader.Config{Name: cfg.Name, Metrics: cfg.Metrics, JobKey: cfg.JobKey}, cfg.UploaderConn, cfg.Store, cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := cfg.Reporter
	rcfg.Metrics, rcfg.JobKey = cfg.Metrics, cfg.JobKey
	r, err := reporter.New(rcfg, cfg.ReporterConn, cfg.Store, cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	eg, egCtx := errgroup.WithContext(runCtx)
	eg.Go(func() error { return b.Run(egCtx) })
	eg.Go(func() error { return u.Run(egCtx) })
	eg.Go(func() error { return r.Run(egCtx) })
	t.Cleanup(func() {
		stop()
		if err := eg.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("components: %v", err)
		}
	})
}
