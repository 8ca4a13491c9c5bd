package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// ErrUnknownExperiment is returned for a name without a record.
var ErrUnknownExperiment = errors.New("unknown experiment")

// ErrAborted is returned when an aborted experiment is asked to do more.
var ErrAborted = errors.New("experiment aborted")

// ErrBuildsRunning is returned by Delete while builds of the experiment run.
var ErrBuildsRunning = errors.New("builds running")

// load reads experiment name's record and its revision.
func (p *Producer) load(ctx context.Context, name string) (jetstream.KeyValue, record, error) {
	if err := streams.ValidateExperimentName(name); err != nil {
		return nil, record{}, invalid(err)
	}
	kv, err := p.js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return nil, record{}, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
	}
	entry, err := kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, record{}, invalid(fmt.Errorf("experiment %q: %w (see experiment list)", name, ErrUnknownExperiment))
	}
	if err != nil {
		return nil, record{}, fmt.Errorf("read experiment %s: %w", name, err)
	}
	var exp streams.Experiment
	if err := streams.Decode(entry.Value(), &exp); err != nil {
		return nil, record{}, fmt.Errorf("read experiment %s: %w", name, err)
	}
	return kv, record{exp: exp, revision: entry.Revision()}, nil
}

// update changes experiment name's record with change, compare-and-set, so
// that a concurrent change (the producer's progress, another command) is
// never overwritten: on a conflict the record is read again and change
// applied again.
func (p *Producer) update(ctx context.Context, name string, change func(*streams.Experiment) error) (streams.Experiment, error) {
	for {
		kv, rec, err := p.load(ctx, name)
		if err != nil {
			return streams.Experiment{}, err
		}
		if err := change(&rec.exp); err != nil {
			return rec.exp, err
		}
		data, err := json.Marshal(rec.exp)
		if err != nil {
			return rec.exp, fmt.Errorf("encode experiment %s: %w", name, err)
		}
		_, err = kv.Update(ctx, name, data, rec.revision)
		if err == nil {
			return rec.exp, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return rec.exp, fmt.Errorf("update experiment %s: %w", name, err)
		}
	}
}

// SetPriority sets experiment name's priority. Builders order the queues
// they take jobs from by it, from their next fetch on.
func (p *Producer) SetPriority(ctx context.Context, name string, priority int) (streams.Experiment, error) {
	if priority < streams.MinPriority || priority > streams.MaxPriority {
		return streams.Experiment{}, invalid(fmt.Errorf("priority: %d, want %d to %d", priority, streams.MinPriority, streams.MaxPriority))
	}
	exp, err := p.update(ctx, name, func(e *streams.Experiment) error {
		e.Priority = priority
		return nil
	})
	if err == nil {
		p.log.Info().Str("experiment", name).Int("priority", priority).Msg("experiment priority set")
	}
	return exp, err
}

// AbortOutcome says what Abort did.
type AbortOutcome struct {
	Experiment streams.Experiment `json:"experiment"`
	// Purged is how many queued jobs were removed.
	Purged int `json:"purged"`
	// Running is how many builds were running, to be stopped by their builders.
	Running int `json:"running"`
	// Already is set when the experiment had been aborted before.
	Already bool `json:"already"`
}

// Abort marks experiment name aborted, removes its job consumers and queued
// jobs. Builders watch the record and stop its running builds; they
// publish no result for them, so the report keeps what it had.
func (p *Producer) Abort(ctx context.Context, name string) (AbortOutcome, error) {
	var out AbortOutcome
	exp, err := p.update(ctx, name, func(e *streams.Experiment) error {
		out.Already = e.State == streams.ExperimentAborted
		e.State = streams.ExperimentAborted
		return nil
	})
	if err != nil {
		return out, err
	}
	out.Experiment = exp
	// The consumers first, so that no builder takes a job being purged.
	if err := streams.DeleteJobsConsumers(ctx, p.js, &exp); err != nil {
		return out, err
	}
	if out.Purged, err = p.purge(ctx, streams.JobsStream, streams.ExperimentJobsFilter(name)); err != nil {
		return out, err
	}
	builds, err := p.running(ctx, name)
	if err != nil {
		return out, err
	}
	out.Running = len(builds)
	p.log.Info().Str("experiment", name).Int("purged", out.Purged).Int("running", out.Running).Msg("experiment aborted")
	return out, nil
}

// running lists the builds of experiment name live builders report, as
// build/attempt, sorted.
func (p *Producer) running(ctx context.Context, name string) ([]string, error) {
	hbs, err := status.Builders(ctx, p.js)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, hb := range hbs {
		for _, rb := range hb.Running {
			if rb.Experiment == name {
				out = append(out, fmt.Sprintf("%s attempt %d on %s", rb.BuildKey, rb.Attempt, hb.ID))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// purge removes the messages of stream matching filter and says how many
// there were.
func (p *Producer) purge(ctx context.Context, stream, filter string) (int, error) {
	s, err := p.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", stream, err)
	}
	n, err := streams.CountMessages(ctx, s, filter)
	if n == 0 || err != nil {
		return 0, err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
		return 0, fmt.Errorf("purge %s from %s: %w", filter, stream, err)
	}
	return n, nil
}

// DeleteOutcome says what Delete removed.
type DeleteOutcome struct {
	Experiment string `json:"experiment"`
	// Messages counts what was removed per stream.
	Messages map[string]int `json:"messages"`
	// Aborted is set when running builds had to be stopped first (force).
	Aborted bool `json:"aborted"`
	// Objects counts the stored objects removed (DeleteStored): logs,
	// reports, archives. Store is where they were; empty when they were
	// kept.
	Objects int    `json:"objects"`
	Store   string `json:"store,omitempty"`
}

// deleteWait bounds how long Delete with force waits for builders to stop
// the experiment's builds, so that their last log chunks are removed too.
const deleteWait = 30 * time.Second

// Delete removes everything of experiment name that lives in NATS: its job
// consumers, queued jobs, log chunks, upload requests, results, dead
// letters, its record and its progress. Stored logs and reports stay. While
// builds of it run it refuses, unless force: then it aborts it first and
// waits (up to deleteWait) for the builders to stop them.
func (p *Producer) Delete(ctx context.Context, name string, force bool) (DeleteOutcome, error) {
	out := DeleteOutcome{Experiment: name, Messages: map[string]int{}}
	kv, rec, err := p.load(ctx, name)
	if err != nil {
		return out, err
	}
	builds, err := p.running(ctx, name)
	if err != nil {
		return out, err
	}
	if len(builds) > 0 {
		if !force {
			return out, invalid(fmt.Errorf("experiment %s: %w (%d): %s; abort it first (experiment abort %s) or pass --force",
				name, ErrBuildsRunning, len(builds), strings.Join(builds, ", "), name))
		}
		if _, err := p.Abort(ctx, name); err != nil {
			return out, err
		}
		out.Aborted = true
		p.waitStopped(ctx, name)
	}
	if err := streams.DeleteJobsConsumers(ctx, p.js, &rec.exp); err != nil {
		return out, err
	}
	type purge struct{ stream, filter string }
	purges := []purge{
		{streams.JobsStream, streams.ExperimentJobsFilter(name)},
		{streams.UploadsStream, streams.ExperimentUploadsFilter(name)},
		{streams.LogsStream, streams.ExperimentLogsFilter(name)},
		{streams.ResultsStream, streams.ExperimentResultsFilter(name)},
	}
	for _, f := range streams.ExperimentDeadFilters(name) {
		purges = append(purges, purge{streams.DeadStream, f})
	}
	for _, s := range purges {
		n, err := p.purge(ctx, s.stream, s.filter)
		if err != nil {
			return out, err
		}
		out.Messages[s.stream] += n
	}
	pkv, err := p.js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		return out, fmt.Errorf("open %s: %w", streams.ProgressBucket, err)
	}
	if err := pkv.Purge(ctx, name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return out, fmt.Errorf("delete progress of %s: %w", name, err)
	}
	// The record last: until it is gone, delete can be asked again.
	if err := kv.Purge(ctx, name); err != nil {
		return out, fmt.Errorf("delete experiment %s: %w", name, err)
	}
	p.log.Info().Str("experiment", name).Interface("messages", out.Messages).Msg("experiment deleted")
	return out, nil
}

// DeleteStored removes every object of experiment name from st: its
// stored logs, report and archives, everything under its prefix. Delete
// leaves them; run it after, once nothing writes them any more.
//
// A reporter stops writing an experiment as soon as it sees its record
// deleted, cancelling a report write in flight; what that write stored in
// the moments before is removed by a second pass, strayWait later.
func DeleteStored(ctx context.Context, st store.Store, name string) (int, error) {
	n := 0
	for pass := range 2 {
		if pass > 0 {
			select {
			case <-ctx.Done():
				return n, fmt.Errorf("delete the stored objects of %s (%d removed): %w", name, n, ctx.Err())
			case <-time.After(strayWait):
			}
		}
		removed, err := store.DeletePrefix(ctx, st, streams.ExperimentPrefix(name), 0)
		n += removed
		if err != nil {
			return n, fmt.Errorf("delete the stored objects of %s (%d removed): %w", name, n, err)
		}
	}
	return n, nil
}

// strayWait is how long DeleteStored waits for report writes cancelled by
// the deletion to end.
const strayWait = 2 * time.Second

// waitStopped waits until no builder reports a build of name, or deleteWait.
func (p *Producer) waitStopped(ctx context.Context, name string) {
	deadline := time.Now().Add(deleteWait)
	for time.Now().Before(deadline) {
		if builds, err := p.running(ctx, name); err == nil && len(builds) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
	p.log.Warn().Str("experiment", name).Dur("waited", deleteWait).Msg("builds still reported running; deleting anyway")
}
