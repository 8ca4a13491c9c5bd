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
// `experiment delete` removes it. The reporter follows the whole bucket
// with one watch: it reads every record when it starts, before the first
// result, and every change from then on, so that a result's record is at
// hand as the result comes (no lookup per experiment), its report says the
// experiment was aborted, it asks for no re-run of an aborted experiment,
// and it forgets a deleted one. Records are small, and only the producer
// writes them.

// watchRecords follows the experiments bucket: every record in it first,
// then each change.
func watchRecords(ctx context.Context, js jetstream.JetStream) (jetstream.KeyWatcher, error) {
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return nil, fmt.Errorf("reporter: open bucket %s: %w", streams.ExperimentsBucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("reporter: watch bucket %s: %w", streams.ExperimentsBucket, err)
	}
	return w, nil
}

// loadRecords takes in the records the watch delivers first, every one in
// the bucket, up to the empty entry that ends them.
func (r *Reporter) loadRecords(ctx context.Context, st *run) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case entry, ok := <-st.records.Updates():
			if !ok {
				return fmt.Errorf("reporter: the watch of bucket %s ended", streams.ExperimentsBucket)
			}
			if entry == nil {
				r.log.Info().Int("experiments", len(st.known)).Msg("experiment records read")
				return nil
			}
			if op := entry.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
				continue
			}
			if rec, err := decodeRecord(entry); err != nil {
				r.log.Error().Err(err).Str("experiment", entry.Key()).Uint64("revision", entry.Revision()).
					Msg("invalid experiment record; its results wait until it is fixed")
			} else {
				st.known[entry.Key()] = rec
			}
		}
	}
}

// decodeRecord is the record entry holds, checked.
func decodeRecord(entry jetstream.KeyValueEntry) (*streams.Experiment, error) {
	var rec streams.Experiment
	if err := streams.Decode(entry.Value(), &rec); err != nil {
		return nil, err
	}
	if rec.Name != entry.Key() {
		return nil, fmt.Errorf("record names experiment %q", rec.Name)
	}
	return &rec, nil
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
		delete(st.known, name)
		r.drop(ctx, st, name)
		return
	}
	rec, err := decodeRecord(entry)
	e := st.exps[name]
	if err == nil && e != nil && !slices.Equal(rec.Toolchains, e.rec.Toolchains) {
		err = fmt.Errorf("record names toolchains %q, was %q", rec.Toolchains, e.rec.Toolchains)
	}
	if err != nil {
		r.log.Error().Err(err).Str("experiment", name).Uint64("revision", entry.Revision()).
			Msg("ignoring an invalid change of the experiment record")
		return
	}
	st.known[name] = rec
	if e == nil {
		// Results that came before the record are judged now.
		if w := st.pending.take(name); w != nil {
			r.settle(ctx, st, rec, w)
		}
		return
	}
	if rec.State == streams.ExperimentAborted && e.rec.State != streams.ExperimentAborted {
		r.log.Info().Str("experiment", name).Int("confirming", len(e.unconfirmed)).
			Msg("experiment aborted: its report says so, no more re-runs are asked for")
	}
	e.rec = rec
	e.configWritten = false // config.json holds the record
	e.markDirty(time.Now(), r.cfg.Debounce)
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
	st.stopWrites(name)
	// What waited for its record is the deleted experiment's too.
	st.pending.take(name)
	r.met.forget(name)
	if e == nil {
		return
	}
	if e.arch.stop != nil {
		// As for a write: archives stored after this would outlive the
		// deletion of the experiment's stored objects.
		e.arch.stop()
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
