package status

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// State is where an experiment stands, as `experiment list` shows it.
type State string

const (
	// StateRunning: builds or confirmation re-runs are still to come.
	StateRunning State = "running"
	// StateFinished: every build has its result, nothing is queued or
	// running (Status.Finished).
	StateFinished State = "finished"
	// StateAborted: `experiment abort` stopped it.
	StateAborted State = "aborted"
)

// State says whether s's experiment is running, finished or aborted.
func (s Status) State() State {
	switch {
	case s.Experiment.State == streams.ExperimentAborted:
		return StateAborted
	case s.Finished():
		return StateFinished
	default:
		return StateRunning
	}
}

// ListStatus returns the status of every experiment, sorted by creation
// time like List. The builders' heartbeats are read once for all of them.
func ListStatus(ctx context.Context, js jetstream.JetStream) ([]Status, error) {
	exps, err := List(ctx, js)
	if err != nil {
		return nil, err
	}
	hbs, err := Builders(ctx, js)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(exps))
	for _, e := range exps {
		st, err := get(ctx, js, e.Name, hbs)
		if errors.Is(err, ErrUnknownExperiment) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}
