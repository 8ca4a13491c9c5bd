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

	"github.com/ejecta-build/ejecta/builder/cargo"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/registry"
	"github.com/ejecta-build/ejecta/streams"
)

// Builder takes jobs from the experiments' job consumers, highest priority
// first (queues.go), and builds them in a Runner, one job per slot at a time.
type Builder struct {
	cfg Config
	nc  *nats.Conn
	js  jetstream.JetStream
	run Runner
	log zerolog.Logger
	met *metrics
	// sender names the builder in its result subjects: the NATS user its
	// connection authenticates as (streams.ResultSender), the only name
	// the server lets that user publish results under.
	sender string

	// tasks numbers sandbox tasks so container IDs never repeat within
	// this process; a restart first cleans up every ID of this builder.
	tasks atomic.Uint64
	// rustc caches `rustc -vV` per toolchain for the logs' first lines.
	rustc cargo.Versions

	// abort ends a drain early (Abort).
	abort     chan struct{}
	abortOnce sync.Once

	queues *queues
	// registries and cache serve jobs whose crates come from a remote
	// registry (registries.go); the cache is opened by the first such job.
	registries map[string]*registry.Client
	cache      *registry.Cache
	// targets are each slot's shared targets (sharedtarget.go); a slot
	// touches only its own.
	targets []sharedTargets
	// stock holds the files job dirs have alike, linked into each
	// (workspace.Stock); nil: each job dir has them written.
	stock *workspace.Stock
	// removals are job dirs and purged shared targets being removed in
	// the background (removeJobDir, purgeTarget).
	removals sync.WaitGroup

	mu      sync.Mutex
	running map[int]streams.RunningBuild    // by slot, for the heartbeat
	stops   map[int]context.CancelCauseFunc // by slot: ends the running build
	paused  string                          // why no new jobs are taken, for the heartbeat
	// changed wakes the heartbeat when running or paused change, so a
	// build shows in `ejecta status` when it starts, not up to a period later.
	changed chan struct{}

	// logBlockLimit overrides attempt.logBlockLimit when not 0 (tests).
	logBlockLimit time.Duration
	// freeDisk measures the work dir's free disk for the shared targets'
	// purges (freeDisk; tests pretend).
	freeDisk func(dir string) (uint64, error)
	// diskQuotaEvery is how often a job dir is measured against
	// Config.JobDiskBytes (quota.go).
	diskQuotaEvery time.Duration
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
	met, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	b := &Builder{
		cfg: cfg, nc: nc, js: js, run: run, met: met, sender: streams.Sender(nc),
		log:        log.With().Str("builder", cfg.ID).Logger(),
		running:    map[int]streams.RunningBuild{},
		changed:    make(chan struct{}, 1),
		stops:      map[int]context.CancelCauseFunc{},
		registries: map[string]*registry.Client{},
		abort:      make(chan struct{}),

		diskQuotaEvery: diskQuotaEvery,
		freeDisk:       freeDisk,
	}
	b.targets = make([]sharedTargets, cfg.Slots)
	for i := range b.targets {
		b.targets[i] = sharedTargets{}
	}
	b.queues = newQueues(b)
	return b, nil
}

// Run builds jobs until ctx ends, then drains: it takes no new job, lets
// running builds finish for up to Config.DrainGrace (or until Abort), and
// kills the rest. A build killed that way is not acknowledged (Nak), so
// JetStream hands it to another builder at once. Run returns when every
// slot is idle. It returns an error only if the builder cannot start (its
// work dir or the sandbox is unusable).
func (b *Builder) Run(ctx context.Context) error {
	ctx, cancel := streams.RunContext(ctx)
	defer cancel()
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

	// The experiments' records say which queues to take from, and which
	// running builds to stop; they are followed while builds run.
	var watch sync.WaitGroup
	watch.Go(func() { b.queues.watch(hbctx) })
	// A job queued wakes idle slots at once; without it they would notice
	// it at their next look (queues.idle). The notice is the job's
	// headers, republished by the stream: never its body, whose ticket
	// only the builder that fetches the job may see.
	// It also tells which queue has a job again (queues.queued).
	if sub, err := b.nc.Subscribe(streams.JobsQueuedFilter, func(m *nats.Msg) { b.queues.queued(m.Subject) }); err != nil {
		b.log.Warn().Err(err).Msg("cannot follow job publishes; idle slots will poll")
	} else {
		b.queues.noticed.Store(true)
		defer sub.Unsubscribe()
	}

	var slots sync.WaitGroup
	for slot := range b.cfg.Slots {
		slots.Go(func() { b.slot(ctx, jobs, slot) })
	}
	slots.Wait()
	b.removals.Wait()
	if b.stock != nil {
		b.stock.Close()
	}
	stopHeartbeat()
	hb.Wait()
	watch.Wait()

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
// sandbox tasks, its job dirs and its shared targets; and makes its stock
// afresh.
func (b *Builder) cleanup(ctx context.Context) error {
	if err := os.MkdirAll(b.cfg.WorkDir, 0o755); err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	if err := b.run.Cleanup(ctx, isTaskOf(b.cfg.ID)); err != nil {
		return fmt.Errorf("clean up leftover sandbox tasks: %w", err)
	}
	removed, err := workspace.RemoveDirs(b.cfg.WorkDir, b.cfg.ID)
	if err != nil {
		// The builder works on: its new job dirs have names of their own.
		b.log.Error().Err(err).Msg("some job dirs left by a previous run cannot be removed; remove them by hand")
	}
	if removed > 0 {
		b.log.Info().Int("dirs", removed).Msg("removed job dirs left by a previous run")
	}
	if err := b.removeSharedTargets(); err != nil {
		// Builds would find what is left of them: better not to start.
		return err
	}
	stock, err := workspace.NewStock(workspace.StockDir(b.cfg.WorkDir, b.cfg.ID))
	if err != nil {
		// Slower, no less safe: each job dir has its files written.
		b.log.Warn().Err(err).Msg("no stock of the files job dirs have alike; writing them in each")
		return nil
	}
	b.stock = stock
	return nil
}

// removeJobDir removes a finished attempt's job dir in the background. A
// target dir holds thousands of files; removing them before the result is
// published and the next job is taken would leave the slot idle that long
// (issue 4: no idle gap over 100 ms between jobs). Job dirs never collide
// (workspace.DirName), and Run waits for every removal before it returns.
func (b *Builder) removeJobDir(dir string, log zerolog.Logger) {
	b.removals.Go(func() {
		if err := workspace.RemoveTree(dir); err != nil {
			log.Error().Err(err).Str("dir", dir).Msg("remove job dir")
		}
	})
}

// setRunning records (rb non-nil) or forgets what a slot is building.
func (b *Builder) setRunning(slot int, rb *streams.RunningBuild) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.heartbeatSoon()
	if rb == nil {
		delete(b.running, slot)
		return
	}
	b.running[slot] = *rb
}

// heartbeatSoon asks for a heartbeat now rather than at the next period.
func (b *Builder) heartbeatSoon() {
	select {
	case b.changed <- struct{}{}:
	default: // one is asked for already
	}
}

// setPaused records why the builder takes no new jobs ("" when it does).
// Draining is final: a low-disk check does not overwrite it.
func (b *Builder) setPaused(why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused != "draining" && b.paused != why {
		b.paused = why
		b.heartbeatSoon()
	}
}

// setStop records (stop non-nil) or forgets how to end what a slot builds.
// A build of an experiment already aborted is ended at once.
func (b *Builder) setStop(slot int, exp string, stop context.CancelCauseFunc) {
	b.mu.Lock()
	if stop == nil {
		delete(b.stops, slot)
		b.mu.Unlock()
		return
	}
	b.stops[slot] = stop
	b.mu.Unlock()
	if b.queues.aborted(exp) {
		stop(errExperimentAborted)
	}
}

// stopExperiment ends every running build of experiment exp: it was
// aborted or deleted.
func (b *Builder) stopExperiment(exp string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for slot, rb := range b.running {
		if stop := b.stops[slot]; rb.Experiment == exp && stop != nil {
			b.log.Info().Int("slot", slot).Str("experiment", exp).Msg("experiment aborted: stopping its build")
			stop(errExperimentAborted)
		}
	}
}
