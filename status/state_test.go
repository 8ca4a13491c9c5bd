package status

import (
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

func TestState(t *testing.T) {
	aborted := streams.Experiment{State: streams.ExperimentAborted}
	for _, tc := range []struct {
		name string
		st   Status
		want State
	}{
		{"nothing done", Status{Total: 4, Queued: 4}, StateRunning},
		{"all done", Status{Total: 4, Done: 4}, StateFinished},
		{"done but confirming", Status{Total: 4, Done: 4, Confirming: 1}, StateRunning},
		{"done but a re-run queued", Status{Total: 4, Done: 4, Queued: 1}, StateRunning},
		{"done but a build running", Status{Total: 4, Done: 4, Running: 1}, StateRunning},
		{"no jobs", Status{}, StateRunning},
		{"aborted", Status{Experiment: aborted, Total: 4, Done: 1}, StateAborted},
		{"aborted, builds stopping", Status{Experiment: aborted, Total: 4, Running: 1}, StateAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.State(); got != tc.want {
				t.Errorf("State() = %q, want %q", got, tc.want)
			}
		})
	}
}
