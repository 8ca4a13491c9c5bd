package streams

import (
	"cmp"
	"fmt"
)

// ExperimentState is where an experiment is in its life, as its record
// says. Running and finished are not states: they follow from the queues
// and results (status.Status.Finished).
type ExperimentState string

// ExperimentAborted: `experiment abort` stopped it; its queued jobs are
// gone, its running builds were killed, its report holds what it had.
const ExperimentAborted ExperimentState = "aborted"

// Validate accepts the empty state and the ones above.
func (s ExperimentState) Validate() error {
	if s != "" && s != ExperimentAborted {
		return fmt.Errorf("experiment: state %q: want empty or %q", s, ExperimentAborted)
	}
	return nil
}

// Priority bounds: a higher priority's jobs are taken first.
const (
	MinPriority = 0
	MaxPriority = 100
)

// ComparePriority orders experiments the way builders take their jobs:
// higher priority first, then the older one, then by name.
func ComparePriority(a, b *Experiment) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}
