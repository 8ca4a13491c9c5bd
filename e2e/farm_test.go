package e2e

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
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
	return startFarmWith(t, ctx, testfarm.Config{Name: name, Reporter: rcfg}, openStore)
}

// startFarmWith is startFarm with more of the farm's configuration: its
// name, reporter, builder work dir and hidden paths are taken from cfg.
func startFarmWith(t *testing.T, ctx context.Context, cfg testfarm.Config, openStore func(*testing.T) store.Store) *farm {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	nc, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	f := &farm{js: js, registry: testenv.CrateRegistry(t), log: log, metrics: prometheus.NewRegistry()}
	cfg.Namespace = "ejecta-" + cfg.Name
	cfg.BuilderConn, cfg.UploaderConn, cfg.ReporterConn = nc, nc, nc
	cfg.Store, cfg.Metrics, cfg.Log = openStore(t), f.metrics, log
	testfarm.Start(t, ctx, cfg)
	return f
}

// fileStore is an openStore for startFarm: a file store in a new
// directory, also kept in *st for the test to read.
func fileStore(st *store.Store) func(*testing.T) store.Store {
	return func(t *testing.T) store.Store {
		s, err := store.NewFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		*st = s
		return s
	}
}
