// Package status answers read-only questions about experiments for the CLI:
// which exist, and how far each has got (queued, running, done per result).
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

// Status is an experiment's progress as `experiment status` shows it.
type Status struct {
	Experiment  streams.Experiment     `json:"experiment"`
	Total       int                    `json:"total"`
	Queued      int                    `json:"queued"`
	Running     int                    `json:"running"`
	Done        int                    `json:"done"`
	Statuses    map[streams.Status]int `json:"statuses"`
	Classes     map[string]int         `json:"classes"`
	DeadLetters int                    `json:"dead_letters"`
	// RatePerMinute is the builds finished per minute over the last
	// RateWindow (since the experiment was created, when it is younger),
	// ETASeconds the time the builds not done take at it; both 0 while
	// not known. Where the results cannot be read, they are the
	// reporter's figures, over the whole run.
	RatePerMinute float64 `json:"rate_per_minute"`
	ETASeconds    int64   `json:"eta_seconds"`
	// Toolchains is the progress of each toolchain, baseline first.
	Toolchains []ToolchainStatus `json:"toolchains"`
	// Confirming counts regressions waiting for their confirmation re-runs.
	Confirming int `json:"confirming"`
	// ReportUpdated is when the reporter last summarised the experiment;
	// zero if it has not yet.
	ReportUpdated time.Time `json:"report_updated"`
	// ResultsUpdated is the time in the experiment's results.json as last
	// stored, which a large experiment rewrites less often than its
	// summary (streams.Progress); zero if none is, or the reporter does
	// not say.
	ResultsUpdated time.Time `json:"results_updated,omitzero"`
}

// ToolchainStatus is one toolchain's share of an experiment: its builds,
// one per crate, and a rate as Status's.
type ToolchainStatus struct {
	Toolchain     string  `json:"toolchain"`
	Total         int     `json:"total"`
	Done          int     `json:"done"`
	Running       int     `json:"running"`
	Queued        int     `json:"queued"`
	RatePerMinute float64 `json:"rate_per_minute"`
	ETASeconds    int64   `json:"eta_seconds"`
}

// ErrUnknownExperiment is returned for a name with no record.
var ErrUnknownExperiment = errors.New("unknown experiment")

// List returns every experiment record, sorted by creation time.
func List(ctx context.Context, js jetstream.JetStream) ([]streams.Experiment, error) {
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list experiments: %w", err)
	}
	var out []streams.Experiment
	for k := range keys.Keys() {
		e, err := experiment(ctx, kv, k)
		if errors.Is(err, ErrUnknownExperiment) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b streams.Experiment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Record returns experiment name's record; ErrUnknownExperiment if it has
// none.
func Record(ctx context.Context, js jetstream.JetStream, name string) (streams.Experiment, error) {
	if err := streams.ValidateExperimentName(name); err != nil {
		return streams.Experiment{}, err
	}
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return streams.Experiment{}, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
	}
	return experiment(ctx, kv, name)
}

func experiment(ctx context.Context, kv jetstream.KeyValue, name string) (streams.Experiment, error) {
	var e streams.Experiment
	entry, err := kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, fmt.Errorf("%w %q", ErrUnknownExperiment, name)
	}
	if err != nil {
		return e, fmt.Errorf("read experiment %s: %w", name, err)
	}
	if err := json.Unmarshal(entry.Value(), &e); err != nil {
		return e, fmt.Errorf("read experiment %s: %w", name, err)
	}
	return e, nil
}

// Get returns the status of experiment name.
func Get(ctx context.Context, js jetstream.JetStream, name string) (Status, error) {
	if err := streams.ValidateExperimentName(name); err != nil {
		return Status{}, err
	}
	hbs, err := Builders(ctx, js)
	if err != nil {
		return Status{}, err
	}
	return get(ctx, js, name, hbs)
}

// get is Get with the live builders' heartbeats already read.
func get(ctx context.Context, js jetstream.JetStream, name string, hbs []streams.Heartbeat) (Status, error) {
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		return Status{}, fmt.Errorf("open %s: %w", streams.ExperimentsBucket, err)
	}
	e, err := experiment(ctx, kv, name)
	if err != nil {
		return Status{}, err
	}
	st := Status{Experiment: e, Total: e.Jobs, Statuses: map[streams.Status]int{}, Classes: map[string]int{}}

	for _, tc := range e.Toolchains {
		inQueue, err := countMessages(ctx, js, streams.JobsStream, streams.JobsFilter(name, tc))
		if err != nil {
			return st, err
		}
		reruns, err := countMessages(ctx, js, streams.JobsStream, streams.RerunsFilter(name, tc))
		if err != nil {
			return st, err
		}
		inQueue += reruns
		t := ToolchainStatus{Toolchain: tc, Total: e.Crates}
		// Heartbeats lag by up to a heartbeat period; a job that left the
		// queue is no longer running whatever the last heartbeat said.
		t.Running = min(running(hbs, name, tc), inQueue)
		// A running job stays on the work queue until it is acked.
		t.Queued = max(inQueue-t.Running, 0)
		st.Running += t.Running
		st.Queued += t.Queued
		st.Toolchains = append(st.Toolchains, t)
	}
	if st.DeadLetters, err = countAll(ctx, js, streams.DeadStream, streams.ExperimentDeadFilters(name)); err != nil {
		return st, err
	}
	pkv, err := js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		return st, fmt.Errorf("open %s: %w", streams.ProgressBucket, err)
	}
	entry, err := pkv.Get(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return st, fmt.Errorf("read progress of %s: %w", name, err)
	default:
		var p streams.Progress
		if err := json.Unmarshal(entry.Value(), &p); err != nil {
			return st, fmt.Errorf("read progress of %s: %w", name, err)
		}
		st.Done, st.ReportUpdated, st.ResultsUpdated = p.Done, p.Updated, p.ResultsUpdated
		st.RatePerMinute, st.ETASeconds, st.Confirming = p.RatePerMinute, p.ETASeconds, p.Confirming
		for i := range st.Toolchains {
			st.Toolchains[i].Done = p.ToolchainsDone[st.Toolchains[i].Toolchain]
		}
		for k, v := range p.Statuses {
			st.Statuses[k] = v
		}
		for k, v := range p.Classes {
			st.Classes[k] = v
		}
	}
	st.measureRate(ctx, js, time.Now())
	return st, nil
}

// measureRate sets the rates and ETAs of st from the results its
// toolchains' builds stored in the rate window. Where they cannot be read
// (a role without the right), the reporter's figures stay. An experiment
// with every build done, or aborted, has no rate to measure: the web UI
// lists every experiment every few seconds, most of them long finished.
func (st *Status) measureRate(ctx context.Context, js jetstream.JetStream, now time.Time) {
	start, ok := windowStart(now, st.Experiment.CreatedAt)
	if !ok || st.Done >= st.Total || st.Experiment.State == streams.ExperimentAborted {
		st.RatePerMinute, st.ETASeconds = 0, 0
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	counts := make([]int, len(st.Toolchains))
	total := 0
	for i, t := range st.Toolchains {
		n, err := recentResults(ctx, js, st.Experiment.Name, t.Toolchain, start)
		if err != nil {
			return
		}
		counts[i] = n
		total += n
	}
	span := now.Sub(start)
	for i := range st.Toolchains {
		t := &st.Toolchains[i]
		t.RatePerMinute, t.ETASeconds = rateOver(counts[i], span, t.Total-t.Done)
	}
	st.RatePerMinute, st.ETASeconds = rateOver(total, span, st.Total-st.Done)
}

// countMessages counts the messages of stream whose subject matches filter.
func countMessages(ctx context.Context, js jetstream.JetStream, stream, filter string) (int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", stream, err)
	}
	return streams.CountMessages(ctx, s, filter)
}

// countAll counts the messages of stream on any of filters, which
// overlap nowhere.
func countAll(ctx context.Context, js jetstream.JetStream, stream string, filters []string) (int, error) {
	total := 0
	for _, f := range filters {
		n, err := countMessages(ctx, js, stream, f)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// running counts the builds of experiment name with toolchain tc that
// live builders report.
func running(hbs []streams.Heartbeat, name, tc string) int {
	n := 0
	for _, hb := range hbs {
		for _, r := range hb.Running {
			if r.Experiment == name && r.Toolchain == tc {
				n++
			}
		}
	}
	return n
}

// Builders returns the heartbeats of the live builders, sorted by id.
func Builders(ctx context.Context, js jetstream.JetStream) ([]streams.Heartbeat, error) {
	kv, err := js.KeyValue(ctx, streams.BuildersBucket)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", streams.BuildersBucket, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list builders: %w", err)
	}
	var out []streams.Heartbeat
	for k := range keys.Keys() {
		sender, id, err := streams.ParseHeartbeatKey(k)
		if err != nil {
			continue // not a key a builder may write
		}
		entry, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between list and get
		}
		if err != nil {
			return nil, fmt.Errorf("read builder %s: %w", k, err)
		}
		var hb streams.Heartbeat
		if err := json.Unmarshal(entry.Value(), &hb); err != nil {
			continue // a newer builder's schema; not fatal for a count
		}
		if hb.ID != id {
			continue // a heartbeat under another builder's id
		}
		hb.Sender = sender
		out = append(out, hb)
	}
	slices.SortFunc(out, func(a, b streams.Heartbeat) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Finished reports whether nothing more will happen to the experiment: every
// job has a result, no regression waits for a confirmation re-run, and no
// job (a re-run included) is queued or running.
func (s Status) Finished() bool {
	if s.Experiment.State == streams.ExperimentAborted {
		// Nothing more will be built; its last builds are being stopped.
		return s.Running == 0
	}
	return s.Total > 0 && s.Done >= s.Total && s.Confirming == 0 && s.Queued == 0 && s.Running == 0
}
