package reporter

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// An experiment's record changes after it is created: `experiment abort`
// marks it aborted, `experiment priority` and a resumed create update it,
// `experiment delete` removes it. The reporter reads a record once, when
// the experiment's first results need it, and follows the bucket from then
// on so that its report says the experiment was aborted, it asks for no
// re-run of an aborted experiment, and it forgets a deleted one.

// watchRecords follows changes of the experiments bucket from now on; the
// records as they are now are read when an experiment needs its own
// (loadRecord), which is after the watch started, so no change is missed.
func watchRecords(ctx context.Context, js jetstream.JetStream) (jetstream.KeyWatcher, error) {
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return nil, fmt.Errorf("reporter: open bucket %s: %w", streams.ExperimentsBucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("reporter: watch bucket %s: %w", streams.ExperimentsBucket, err)
	}
	return w, nil
}

// followRecords takes in every record change that has arrived, without
// waiting for more.
func (r *Reporter) followRecords(ctx context.Context, st *run) {
	for st.records != nil {
		select {
		case entry, ok := <-st.records.Updates():
			if !ok {
				// Only Stop closes it, and only Run stops it.
				st.records = nil
				return
			}
			if entry != nil {
				r.recordChanged(ctx, st, entry)
			}
		default:
			return
		}
	}
}

// recordChanged applies one change of experiment entry.Key()'s record.
func (r *Reporter) recordChanged(ctx context.Context, st *run, entry jetstream.KeyValueEntry) {
	name := entry.Key()
	if op := entry.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		r.drop(ctx, st, name)
		return
	}
	e := st.exps[name]
	if e == nil {
		return // no result yet: the record is read when one comes
	}
	now := time.Now()
	if e.rec == nil {
		// Results wait for this record: read it at the next write.
		e.markDirty(now, r.cfg.Debounce)
		return
	}
	var rec streams.Experiment
	err := streams.Decode(entry.Value(), &rec)
	if err == nil && (rec.Name != name || !slices.Equal(rec.Toolchains, e.rec.Toolchains)) {
		err = fmt.Errorf("record names experiment %q with toolchains %q, was %q", rec.Name, rec.Toolchains, e.rec.Toolchains)
	}
	if err != nil {
		r.log.Error().Err(err).Str("experiment", name).Uint64("revision", entry.Revision()).
			Msg("ignoring an invalid change of the experiment record")
		return
	}
	if rec.State == streams.ExperimentAborted && e.rec.State != streams.ExperimentAborted {
		r.log.Info().Str("experiment", name).Int("confirming", len(e.unconfirmed)).
			Msg("experiment aborted: its report says so, no more re-runs are asked for")
	}
	e.rec = &rec
	e.configWritten = false // config.json holds the record
	e.markDirty(now, r.cfg.Debounce)
}

// drop forgets deleted experiment name. Its results still on their way
// (delivered before the purge reached the stream) must not start it
// again, so the results stream's last sequence now bounds them.
func (r *Reporter) drop(ctx context.Context, st *run, name string) {
	e := st.exps[name]
	var last uint64
	if st.resultsStream != nil {
		info, err := st.resultsStream.Info(ctx)
		if err != nil {
			// Without it, only the results already handled are known
			// to be the deleted experiment's.
			r.log.Warn().Err(err).Str("experiment", name).Msg("reading the results stream's last sequence")
		} else {
			last = info.State.LastSeq
		}
	}
	st.dropped[name] = last
	r.met.forget(name)
	if e == nil {
		return
	}
	delete(st.exps, name)
	for k := range st.requested {
		if e.crates[k.cs.key] == k.cs {
			delete(st.requested, k)
		}
	}
	r.log.Info().Str("experiment", name).Int("crates", len(e.crates)).Msg("experiment deleted: its state is dropped")
}

// isDropped reports whether the result at stream sequence seq belongs to
// a deleted experiment. A later result of that name is a new experiment's.
func (st *run) isDropped(exp string, seq uint64) bool {
	last, ok := st.dropped[exp]
	if !ok {
		return false
	}
	if seq <= last {
		return true
	}
	delete(st.dropped, exp)
	return false
}

// purgeProgress removes deleted experiment name's progress entry again.
func (r *Reporter) purgeProgress(st *run, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.progress.Purge(ctx, name); err != nil {
		r.log.Warn().Err(err).Str("experiment", name).Msg("removing the progress entry of a deleted experiment")
	}
}
