package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/streams"
)

// Builder takes jobs from the shared builders consumer and builds them in
// a Runner, one job per slot at a time.
type Builder struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	run Runner
	log zerolog.Logger

	// tasks numbers sandbox tasks so container IDs never repeat within
	// this process; a restart first cleans up every ID of this builder.
	tasks atomic.Uint64

	mu      sync.Mutex
	running map[int]streams.RunningBuild // by slot, for the heartbeat
}

// New checks cfg (after filling defaults) and returns a builder that does
// nothing until Run.
func New(cfg Config, nc *nats.Conn, run Runner, log zerolog.Logger) (*Builder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("builder config: %w", err)
	}
	if nc == nil || run == nil {
		return nil, errors.New("builder: nil nats connection or runner")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("builder: jetstream: %w", err)
	}
	return &Builder{
		cfg: cfg, nc: nc, js: js, run: run,
		log:     log.With().Str("builder", cfg.ID).Logger(),
		running: map[int]streams.RunningBuild{},
	}, nil
}

// Run builds jobs until ctx ends. It returns after every running build has
// been stopped; a build stopped that way is not acknowledged, so JetStream
// hands it to another builder. It returns an error only if the builder
// cannot start (its work dir or the sandbox is unusable).
func (b *Builder) Run(ctx context.Context) error {
	if err := b.cleanup(ctx); err != nil {
		return err
	}
	b.log.Info().Int("slots", b.cfg.Slots).Str("work_dir", b.cfg.WorkDir).Msg("builder started")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { b.heartbeats(gctx); return nil })
	for slot := range b.cfg.Slots {
		g.Go(func() error { b.slot(gctx, slot); return nil })
	}
	err := g.Wait()

	// ctx is done: remove the heartbeat with a context of its own so that
	// `ejecta builders` stops listing us now rather than after the TTL.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b.deleteHeartbeat(dctx)
	b.log.Info().Msg("builder stopped")
	return err
}

// cleanup removes what a crashed builder with our ID left behind: its
// sandbox tasks and its job dirs.
func (b *Builder) cleanup(ctx context.Context) error {
	if err := os.MkdirAll(b.cfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if err := b.run.Cleanup(ctx, containerPrefix(b.cfg.ID)); err != nil {
		return fmt.Errorf("clean up leftover sandbox tasks: %w", err)
	}
	removed, err := removeJobDirs(b.cfg.WorkDir, b.cfg.ID)
	if err != nil {
		return fmt.Errorf("clean up leftover job dirs: %w", err)
	}
	if removed > 0 {
		b.log.Info().Int("dirs", removed).Msg("removed job dirs left by a previous run")
	}
	return nil
}

// setRunning records (rb non-nil) or forgets what a slot is building.
func (b *Builder) setRunning(slot int, rb *streams.RunningBuild) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rb == nil {
		delete(b.running, slot)
		return
	}
	b.running[slot] = *rb
}
