package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// flushDue writes the report of every experiment whose write is due. A
// failed write is retried a debounce later.
func (r *Reporter) flushDue(ctx context.Context, st *run) {
	now := time.Now()
	for _, e := range st.exps {
		if e.due.IsZero() || e.due.After(now) {
			continue
		}
		e.due = time.Time{}
		if err := r.flush(ctx, st, e, now); err != nil {
			if ctx.Err() == nil {
				r.log.Error().Err(err).Str("experiment", e.name).Msg("writing report; will retry")
			}
			e.markDirty(now, r.cfg.Debounce)
		}
	}
}

// errNoRecord means the experiment's record is not in the bucket yet.
var errNoRecord = errors.New("experiment record not found")

// flush writes results.json, index.html and the progress entry of e.
//
// For now every write re-renders the whole experiment, which costs O(crates)
// per debounce; only the counts are kept incrementally. Incremental pages
// are a later issue.
func (r *Reporter) flush(ctx context.Context, st *run, e *experiment, now time.Time) error {
	if e.rec == nil {
		rec, err := r.loadRecord(ctx, st, e)
		if errors.Is(err, errNoRecord) {
			// Results came before their experiment's record (the producer
			// publishes jobs first, or the record was lost): keep them and
			// look again at the next debounce.
			r.log.Debug().Str("experiment", e.name).Int("held", len(e.held)).
				Msg("results waiting for the experiment record")
			e.markDirty(now, r.cfg.Debounce)
			return nil
		}
		if err != nil {
			return err
		}
		e.setRecord(rec, r.strayLogger(e.name))
		r.log.Info().Str("experiment", e.name).Strs("toolchains", rec.Toolchains).
			Int("jobs", rec.Jobs).Msg("experiment record found")
	}

	f := e.resultsFile(now)
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(f); err != nil {
		return fmt.Errorf("encode %s: %w", ResultsKey(e.name), err)
	}
	if err := r.put(ctx, ResultsKey(e.name), &buf, "application/json"); err != nil {
		return err
	}
	buf.Reset()
	if err := renderIndex(&buf, r.index, f); err != nil {
		return fmt.Errorf("experiment %s: %w", e.name, err)
	}
	if err := r.put(ctx, IndexKey(e.name), &buf, "text/html; charset=utf-8"); err != nil {
		return err
	}
	if err := r.putProgress(ctx, st, e, now); err != nil {
		return err
	}
	r.log.Debug().Str("experiment", e.name).Int("done", e.done).Int("crates", len(e.crates)).
		Msg("report written")
	return nil
}

func (r *Reporter) put(ctx context.Context, key string, buf *bytes.Buffer, contentType string) error {
	if err := r.store.Put(ctx, key, buf, int64(buf.Len()), contentType); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

func (r *Reporter) putProgress(ctx context.Context, st *run, e *experiment, now time.Time) error {
	p := streams.Progress{
		V:          streams.SchemaVersion,
		Experiment: e.name,
		Done:       e.done,
		Statuses:   maps.Clone(e.statuses),
		Classes:    make(map[string]int, len(e.classes)),
		Updated:    now.UTC(),
	}
	for c, n := range e.classes {
		p.Classes[string(c)] = n
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode progress of %s: %w", e.name, err)
	}
	if _, err := st.progress.Put(ctx, e.name, data); err != nil {
		return fmt.Errorf("put progress of %s in %s: %w", e.name, streams.ProgressBucket, err)
	}
	return nil
}

// loadRecord reads e's record from the experiments bucket. It returns
// errNoRecord while there is none or while the record there is invalid (an
// invalid record is logged once per revision, then waited on to be fixed).
func (r *Reporter) loadRecord(ctx context.Context, st *run, e *experiment) (*streams.Experiment, error) {
	entry, err := st.experiments.Get(ctx, e.name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, fmt.Errorf("get record %s from %s: %w", e.name, streams.ExperimentsBucket, err)
	}
	var rec streams.Experiment
	err = streams.Decode(entry.Value(), &rec)
	if err == nil && rec.Name != e.name {
		err = fmt.Errorf("record names experiment %q", rec.Name)
	}
	if err != nil {
		if entry.Revision() != e.badRevision {
			e.badRevision = entry.Revision()
			r.log.Error().Err(err).Str("experiment", e.name).Uint64("revision", entry.Revision()).
				Msg("invalid experiment record; holding its results until it is fixed")
		}
		return nil, errNoRecord
	}
	return &rec, nil
}
