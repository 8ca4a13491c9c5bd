package reporter

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// Names of the report files under an experiment's prefix.
const (
	indexFileName    = "index.html"
	fullFileName     = "full.html"
	configFileName   = "config.json"
	markdownFileName = "markdown.md"
	retryFileName    = "retry-regressed-list.txt"
)

// IndexKey is the object key of experiment exp's index.html.
func IndexKey(exp string) string { return streams.ExperimentPrefix(exp) + indexFileName }

// pullBatch is how many results the consumer asks the server for at once.
const pullBatch = 4096

// Reporter writes the reports of every experiment. Create it with New and
// start it with Run.
type Reporter struct {
	cfg   Config
	js    jetstream.JetStream
	store store.Store
	log   zerolog.Logger
	tmpl  *template.Template
	met   *metrics
	// sender names its user in the dead letters it files
	// (streams.DeadSubject).
	sender string
}

// New checks cfg and returns a Reporter reading from nc and writing to st.
// The streams and buckets must exist (streams.Ensure).
func New(cfg Config, nc *nats.Conn, st store.Store, log zerolog.Logger) (*Reporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("reporter config: %w", err)
	}
	if nc == nil {
		return nil, errors.New("reporter: nil nats connection")
	}
	if st == nil {
		return nil, errors.New("reporter: nil store")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("reporter: jetstream: %w", err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	met, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("reporter: %w", err)
	}
	return &Reporter{
		met:    met,
		cfg:    cfg.withDefaults(),
		js:     js,
		store:  st,
		log:    log.With().Str("component", "reporter").Logger(),
		tmpl:   tmpl,
		sender: streams.Sender(nc),
	}, nil
}

// run is the state of one call of Run. Everything is rebuilt from the
// stream on each call, so nothing outlives it.
type run struct {
	progress kv
	jobs     lastMsgGetter
	results  lastMsgGetter
	// exps are the experiments with results, each with its record.
	exps map[string]*experiment
	// records follows the experiment records (records.go); nil once it
	// stopped. known is every valid record it delivered, by name.
	records jetstream.KeyWatcher
	known   map[string]*streams.Experiment
	// pending are results whose experiment's record is not known
	// (pending.go).
	pending pending
	// resultsStream is the results stream, for its last sequence and to
	// delete the results the reporter refuses (ingest.go).
	resultsStream jetstream.Stream
	// dropped are deleted experiments and the results stream's last
	// sequence when their deletion was seen: results up to it are theirs,
	// still in flight, and are ignored.
	dropped map[string]uint64

	// decoder decodes every result, reusing its buffers.
	decoder streams.Decoder

	// startSeq is the results stream's last sequence when Run started;
	// caughtUp is set once the replay has reached it.
	startSeq uint64
	caughtUp bool
	// requested are the re-runs queued (or found queued) by this run.
	requested map[rerunKey]bool

	// writers are where the writers stand (flush.go); done receives the
	// outcome of each batch they write.
	writers [writers]writer
	done    chan written
	// arch is the log archive builds started by this run.
	arch archiveRun
	// retention is where the removal of old logs stands (retention.go).
	retention retention
	// baselineDue is when an experiment's baseline report is next to be
	// read (baseline.go); zero when none is.
	baselineDue time.Time
}

// lastMsgGetter is the part of jetstream.Stream the reporter uses.
type lastMsgGetter interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// kv is the part of jetstream.KeyValue the reporter uses.
type kv interface {
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
}

// Run replays every result from the start of the results stream, then
// follows new ones, writing reports as results arrive and queueing the
// confirmation re-runs of regressions once the replay is over. It returns
// nil when ctx ends, or an error if the stream cannot be read at all.
//
// Store and KV failures are logged and retried at the next debounce: the
// state is in memory and the stream, so a failed write loses nothing.
func (r *Reporter) Run(ctx context.Context) (runErr error) {
	ctx, cancel := streams.RunContext(ctx)
	defer cancel()
	defer func() {
		// Opening a stream or bucket fails when ctx ends while it is
		// asked for: that is a stop, not a failure.
		if ctx.Err() != nil {
			runErr = nil
		}
	}()
	st := &run{exps: make(map[string]*experiment), requested: make(map[rerunKey]bool), done: make(chan written, writers),
		dropped: make(map[string]uint64), known: make(map[string]*streams.Experiment),
		pending: newPending(r.cfg.maxPending, r.cfg.maxPendingBytes)}
	// No goroutine outlives Run: a batch being written is waited for.
	defer r.collect(st, true)
	defer st.arch.stop()
	defer st.retention.wg.Wait()
	var err error
	if st.progress, err = r.js.KeyValue(ctx, streams.ProgressBucket); err != nil {
		return fmt.Errorf("reporter: open bucket %s: %w", streams.ProgressBucket, err)
	}
	if st.records, err = watchRecords(ctx, r.js); err != nil {
		return err
	}
	watcher := st.records
	defer func() { _ = watcher.Stop() }()
	// Every record is known before the first result is read.
	if err := r.loadRecords(ctx, st); err != nil {
		return err
	}
	jobs, err := r.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		return fmt.Errorf("reporter: open stream %s: %w", streams.JobsStream, err)
	}
	results, err := r.js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		return fmt.Errorf("reporter: open stream %s: %w", streams.ResultsStream, err)
	}
	st.jobs, st.results, st.resultsStream = jobs, results, results
	st.startSeq = results.CachedInfo().State.LastSeq
	st.caughtUp = results.CachedInfo().State.Msgs == 0
	feed := newResultsFeed(r.js, r.cfg.JobKey, r.cfg.Debounce, r.log)
	if err := feed.open(ctx, 0); err != nil {
		return err
	}
	// Stopping the iterator is what wakes a Next blocked without a timeout.
	stop := context.AfterFunc(ctx, feed.stop)
	defer stop()
	// The reading goroutine ends before Run returns; its own context, so
	// that stopping it does not cancel a write Run waits for on the way out.
	arrivals := make(chan arrival, readAhead)
	var readErr error
	reading := make(chan struct{})
	readCtx, stopReading := context.WithCancel(ctx)
	go func() {
		defer close(reading)
		readErr = feed.read(readCtx, arrivals)
	}()
	defer func() {
		stopReading()
		feed.stop()
		<-reading
	}()

	if r.cfg.JobKey.IsZero() {
		r.log.Warn().Msg("no job key (EJECTA_JOB_KEY): results are not tied to the builders handed their jobs, and re-runs carry no ticket")
	}
	r.log.Info().Str("stream", streams.ResultsStream).Msg("following results from the start of the stream")
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.followRecords(ctx, st)
		// Record changes are looked at between results, so the wait for
		// one is bounded by a debounce even when nothing is due.
		wait := r.cfg.Debounce
		if due, ok := st.nextDue(); ok {
			if wait = min(time.Until(due), wait); wait <= 0 {
				r.flushDue(ctx, st)
				continue
			}
		}
		if due, ok := st.pending.next(); ok {
			// Results waiting for a record are refused a batch at a
			// time, each batch after a look at the stream, so that
			// however many are due a result that counts is not held up.
			wait = min(wait, max(time.Until(due), time.Millisecond))
		}
		var a arrival
		got, open := false, true
		select {
		case a, open = <-arrivals:
			got = open
		default:
			timer.Reset(wait)
			select {
			case a, open = <-arrivals:
				got = open
			case <-timer.C:
			case <-ctx.Done():
			}
			timer.Stop()
		}
		switch {
		case ctx.Err() != nil:
			// No final flush: a restarted reporter replays the stream and
			// writes the same reports.
			return nil
		case !open:
			<-reading
			return readErr
		case got:
			r.handle(ctx, st, &a)
		}
		r.baselines(ctx, st)
		r.flushDue(ctx, st)
		r.retain(ctx, st)
	}
}

// nextDue is the earliest time an experiment's report is due.
func (st *run) nextDue() (time.Time, bool) {
	var first time.Time
	for _, e := range st.exps {
		if due := e.dueAt(); !due.IsZero() && (first.IsZero() || due.Before(first)) {
			first = due
		}
		if due := e.arch.wakeAt(time.Now()); !due.IsZero() && (first.IsZero() || due.Before(first)) {
			first = due
		}
	}
	return first, !first.IsZero()
}

// RetryListKey is the object key of experiment exp's retry-regressed-list.txt.
func RetryListKey(exp string) string { return streams.ExperimentPrefix(exp) + retryFileName }
