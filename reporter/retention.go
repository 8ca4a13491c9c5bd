package reporter

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// DefaultRetentionEvery is Config.RetentionEvery when left zero.
const DefaultRetentionEvery = time.Hour

// An experiment's stored logs are the bulk of the store. Once it is over
// (every build and confirmation in, its log archives built) and its last
// build finished longer ago than its retention, the reporter removes its
// logs (everything under <exp>/logs/: plain, compressed, pages, metadata,
// and the crater view's copies, <exp>/crater/.../log.txt) and keeps its
// report and the archives under <exp>/logs-archives/ and
// <exp>/crater/logs-archives/. A
// removal is looked for every RetentionEvery, runs in the background, and
// is done again by a restarted reporter, where there is then nothing left
// to remove.

// isCraterLog reports whether key is one of the crater view's log.txt
// (craterview.LogKey), not its report or its archives.
func isCraterLog(key string) bool { return strings.HasSuffix(key, "/log.txt") }

// retention is where the removal of old logs stands in one run.
type retention struct {
	next time.Time
	// done receives the outcome of the removal running; nil when none is.
	done chan []removedLogs
	wg   sync.WaitGroup
}

// removedLogs is what one removal did to one experiment.
type removedLogs struct {
	exp     string
	objects int
	err     error
}

// keepLogs is how long e's logs are kept; zero: for ever.
func (r *Reporter) keepLogs(e *experiment) time.Duration {
	if e.rec != nil && e.rec.KeepLogs != 0 {
		return e.rec.KeepLogs.D()
	}
	return r.cfg.KeepLogs
}

// retain collects a finished removal and, every RetentionEvery, starts one
// for the experiments whose logs are past their retention.
func (r *Reporter) retain(ctx context.Context, st *run) {
	ret := &st.retention
	if ret.done != nil {
		select {
		case out := <-ret.done:
			ret.done = nil
			for _, o := range out {
				log := r.log.With().Str("experiment", o.exp).Int("objects", o.objects).Logger()
				if o.err != nil {
					log.Error().Err(o.err).Msg("removing logs past their retention; will try again")
					continue
				}
				if e := st.exps[o.exp]; e != nil {
					e.logsRemoved = true
				}
				log.Info().Msg("logs past their retention removed; the report and the log archives stay")
			}
		default:
			return
		}
	}
	now := time.Now()
	if now.Before(ret.next) || ctx.Err() != nil {
		return
	}
	ret.next = now.Add(r.cfg.RetentionEvery)
	var due []string
	for _, e := range st.exps {
		keep := r.keepLogs(e)
		if keep > 0 && !e.logsRemoved && e.finished() && e.arch.manifest != nil &&
			!e.lastFinished.IsZero() && now.Sub(e.lastFinished) >= keep {
			due = append(due, e.name)
		}
	}
	if len(due) == 0 {
		return
	}
	ret.done = make(chan []removedLogs, 1)
	ret.wg.Add(1)
	go func() {
		defer ret.wg.Done()
		var out []removedLogs
		for _, exp := range due {
			n, err := store.DeletePrefix(ctx, r.store, streams.ExperimentPrefix(exp)+streams.LogsPrefix, 0)
			if err == nil {
				// The crater view's log.txt are copies of those logs.
				var m int
				m, err = store.DeleteWhere(ctx, r.store, streams.ExperimentPrefix(exp)+craterview.Dir, 0, isCraterLog)
				n += m
			}
			out = append(out, removedLogs{exp, n, err})
		}
		ret.done <- out
	}()
}
