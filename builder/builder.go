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

	// abort ends a drain early (Abort).
	abort     chan struct{}
	abortOnce sync.Once

	mu      sync.Mutex
	running map[int]streams.RunningBuild // by slot, for the heartbeat
	paused  string                       // why no new jobs are taken, for the heartbeat
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
		abort:   make(chan struct{}),
	}, nil
}

// Run builds jobs until ctx ends, then drains: it takes no new job, lets
// running builds finish for up to Config.DrainGrace (or until Abort), and
// kills the rest. A build killed that way is not acknowledged (Nak), so
// JetStream hands it to another builder at once. Run returns when every
// slot is idle. It returns an error only if the builder cannot start (its
// work dir or the sandbox is unusable).
func (b *Builder) Run(ctx context.Context) error {
	if err := b.cleanup(ctx); err != nil {
		return err
	}
	b.log.Info().Int("slots", b.cfg.Slots).Str("work_dir", b.cfg.WorkDir).Msg("builder started")

	// jobs is what running builds live on: it outlasts ctx by the grace.
	jobs, abortJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer abortJobs()
	go b.drain(ctx, jobs, abortJobs)
	// The heartbeat goes on while draining: the builds are still running.
	hbctx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	var hb sync.WaitGroup
	hb.Go(func() { b.heartbeats(hbctx) })

	var slots sync.WaitGroup
	for slot := range b.cfg.Slots {
		slots.Go(func() { b.slot(ctx, jobs, slot) })
	}
	slots.Wait()
	stopHeartbeat()
	hb.Wait()

	// Remove the heartbeat with a context of its own so that `ejecta
	// builders` stops listing us now rather than after the TTL.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b.deleteHeartbeat(dctx)
	b.log.Info().Msg("builder stopped")
	return nil
}

// Abort ends a drain at once: running builds are killed and left for
// redelivery. A second SIGTERM calls it.
func (b *Builder) Abort() {
	b.abortOnce.Do(func() { close(b.abort) })
}

// drain waits for ctx to end, then gives running builds DrainGrace before
// ending jobs (which kills them), sooner on Abort.
func (b *Builder) drain(ctx, jobs context.Context, abortJobs context.CancelFunc) {
	select {
	case <-jobs.Done():
		return
	case <-ctx.Done():
	}
	if b.cfg.DrainGrace > 0 {
		b.setPaused("draining")
		b.log.Info().Dur("grace", b.cfg.DrainGrace).Msg("draining: no new jobs; running builds may finish")
		t := time.NewTimer(b.cfg.DrainGrace)
		defer t.Stop()
		select {
		case <-jobs.Done():
			return
		case <-t.C:
			b.log.Warn().Msg("drain grace over: stopping running builds")
		case <-b.abort:
			b.log.Warn().Msg("drain aborted: stopping running builds")
		}
	}
	abortJobs()
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

// setPaused records why the builder takes no new jobs ("" when it does).
// Draining is final: a low-disk check does not overwrite it.
func (b *Builder) setPaused(why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused != "draining" {
		b.paused = why
	}
}
