package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// farm is a whole build farm in this test process on real servers: an
// in-process NATS server, a private containerd, a builder with two slots,
// an uploader and a reporter.
type farm struct {
	js       jetstream.JetStream
	registry string // directory registry: Debian's crates and testdata/crates
	log      zerolog.Logger
	// metrics holds every component's collectors, as `ejecta up` has them.
	metrics *prometheus.Registry
}

// startFarm starts a farm named name, storing into the store made by
// openStore once NATS runs; everything stops when t ends.
func startFarm(t *testing.T, ctx context.Context, name string, openStore func(*testing.T) store.Store, rcfg reporter.Config) *farm {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	nc, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	address := testenv.StartContainerd(t)
	work := testenv.DurableTempDir(t)
	sb, err := sandbox.New(ctx, sandbox.Config{Address: address, Namespace: "ejecta-" + name, FIFODir: filepath.Join(work, "fifo")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	f := &farm{js: js, registry: testenv.CrateRegistry(t), log: log, metrics: prometheus.NewRegistry()}
	f.run(t, ctx, nc, sb, st, name, filepath.Join(work, "jobs"), rcfg)
	return f
}

func (f *farm) run(t *testing.T, ctx context.Context, nc *nats.Conn, sb *sandbox.Containerd, st store.Store, name, workDir string, rcfg reporter.Config) {
	t.Helper()
	b, err := builder.New(builder.Config{ID: name, Slots: 2, WorkDir: workDir, Metrics: f.metrics}, nc, sb, f.log.With().Str("component", "builder").Logger())
	if err != nil {
		t.Fatal(err)
	}
	u, err := uploader.New(uploader.Config{Name: name, Metrics: f.metrics}, nc, st, f.log.With().Str("component", "uploader").Logger())
	if err != nil {
		t.Fatal(err)
	}
	rcfg.Metrics = f.metrics
	r, err := reporter.New(rcfg, nc, st, f.log.With().Str("component", "reporter").Logger())
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
