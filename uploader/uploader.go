package uploader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Uploader is one replica of the log uploader.
type Uploader struct {
	cfg Config
	js  jetstream.JetStream
	st  store.Store
	log zerolog.Logger
	met *metrics
	// failures counts uploads failed since the last success: while it is
	// not 0 the sweep reports the backlog at warning level.
	failures atomic.Int64
	// experiments says which experiments' jobs carry tickets (vouch.go);
	// bound by Run.
	experiments jetstream.KeyValue
	encoders    *encoderPool
	// sender names the replica's user in the dead letters it files
	// (streams.DeadSubject).
	sender string
}

// New returns an uploader storing logs in st. cfg's zero fields take their
// defaults.
func New(cfg Config, nc *nats.Conn, st store.Store, log zerolog.Logger) (*Uploader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("uploader config: %w", err)
	}
	if nc == nil || st == nil {
		return nil, errors.New("uploader: nil nats connection or store")
	}
	// A message larger than the read-ahead could never be fetched and its
	// log would stall forever.
	if mp := nc.MaxPayload(); mp > 0 && int64(cfg.ReadAheadBytes) < mp {
		return nil, fmt.Errorf("uploader config: read-ahead bytes %d: want at least the server's max payload %d", cfg.ReadAheadBytes, mp)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("uploader: jetstream: %w", err)
	}
	met, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("uploader: %w", err)
	}
	return &Uploader{
		cfg:      cfg,
		met:      met,
		js:       js,
		st:       st,
		encoders: newEncoderPool(cfg.Concurrency),
		sender:   streams.Sender(nc),
		log:      log.With().Str("component", "uploader").Str("uploader", cfg.Name).Logger(),
	}, nil
}

// Run uploads logs until ctx ends, then gives back the requests in progress
// and returns nil. It returns an error only if it cannot start: the streams
// and consumer must exist (streams.Ensure). Once running it outlives NATS
// and store outages, retrying with back-off.
func (u *Uploader) Run(ctx context.Context) error {
	ctx, cancel := streams.RunContext(ctx)
	defer cancel()
	cons, err := u.js.Consumer(ctx, streams.UploadsStream, streams.UploadersConsumer)
	if err != nil {
		return fmt.Errorf("uploader: bind consumer %s on %s: %w", streams.UploadersConsumer, streams.UploadsStream, err)
	}
	if aw := cons.CachedInfo().Config.AckWait; aw > 0 && u.cfg.ProgressInterval >= aw {
		return fmt.Errorf("uploader config: progress interval %s: want less than the consumer's ack wait %s", u.cfg.ProgressInterval, aw)
	}
	logs, err := u.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		return fmt.Errorf("uploader: bind stream %s: %w", streams.LogsStream, err)
	}

	uploads, err := u.js.Stream(ctx, streams.UploadsStream)
	if err != nil {
		return fmt.Errorf("uploader: bind stream %s: %w", streams.UploadsStream, err)
	}
	if u.experiments, err = u.js.KeyValue(ctx, streams.ExperimentsBucket); err != nil {
		return fmt.Errorf("uploader: bind bucket %s: %w", streams.ExperimentsBucket, err)
	}
	if u.cfg.JobKey.IsZero() {
		u.log.Warn().Msg("no job key (EJECTA_JOB_KEY): upload requests are not tied to the builders handed their jobs")
	}
	u.log.Info().Int("concurrency", u.cfg.Concurrency).Msg("uploader running")
	var wg sync.WaitGroup
	wg.Go(func() { u.sweep(ctx, logs, uploads) })
	for range u.cfg.Concurrency {
		wg.Go(func() { u.work(ctx, cons, logs) })
	}
	wg.Wait()
	u.log.Info().Msg("uploader stopped")
	return nil
}

// work is one upload slot: it takes one request at a time, so no request
// waits in a local buffer while its AckWait runs out.
func (u *Uploader) work(ctx context.Context, cons jetstream.Consumer, logs jetstream.Stream) {
	failures := 0
	for ctx.Err() == nil {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		switch {
		case err == nil:
			if failures > 0 {
				u.log.Info().Int("failures", failures).Msg("fetching requests again")
				failures = 0
			}
			u.handle(ctx, logs, msg)
		case ctx.Err() != nil:
			return
		case errors.Is(err, nats.ErrTimeout):
			// No request within the pull's expiry: ask again.
		default:
			// Log the start of an outage, not every retry during it.
			if failures == 0 {
				u.log.Warn().Err(err).Msg("fetch upload request; retrying")
			}
			failures++
			backoff.Sleep(ctx, fetchBackoff.Delay(failures-1))
		}
	}
}

// fetchBackoff spaces the fetches of a replica that cannot reach the
// uploads consumer: a second longer each time, up to 10s.
var fetchBackoff = backoff.Policy{First: time.Second, Step: time.Second, Max: 10 * time.Second}
