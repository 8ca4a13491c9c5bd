package reporter

import (
	"maps"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

func testRecord() *streams.Experiment {
	return &streams.Experiment{V: 1, Name: "exp", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, Crates: 2, Jobs: 4}
}

func res(crate, tc string, attempt int, status streams.Status) *streams.Result {
	return &streams.Result{V: 1, BuildKey: streams.BuildKey{Experiment: "exp", Crate: crate, Version: "1.0.0", Toolchain: tc},
		Attempt: attempt, Status: status}
}

func TestApplyKeepsHighestAttempt(t *testing.T) {
	e := newExperiment("exp")
	e.setRecord(testRecord(), func(string) { t.Error("unexpected stray") })
	steps := []struct {
		r       *streams.Result
		changed bool
	}{
		{res("a", "stable", 1, streams.StatusTestPass), true},
		{res("a", "nightly", 1, streams.StatusError), true},
		{res("a", "nightly", 1, streams.StatusError), false},     // duplicate delivery
		{res("a", "nightly", 2, streams.StatusBuildFail), true},  // retry replaces
		{res("a", "nightly", 1, streams.StatusTestPass), false},  // late, older attempt
		{res("b", "nightly", 3, streams.StatusTestPass), true},   // pending crate
		{res("b", "nightly", 2, streams.StatusBuildFail), false}, // older, out of order
	}
	for i, s := range steps {
		if got := e.apply(s.r, func(string) {}); got != s.changed {
			t.Errorf("step %d: changed = %v, want %v", i, got, s.changed)
		}
	}
	if e.done != 3 {
		t.Errorf("done = %d, want 3", e.done)
	}
	wantStatuses := map[streams.Status]int{streams.StatusTestPass: 2, streams.StatusBuildFail: 1}
	if !maps.Equal(e.statuses, wantStatuses) {
		t.Errorf("statuses = %v, want %v", e.statuses, wantStatuses)
	}
	wantClasses := map[Class]int{ClassRegressed: 1}
	if !maps.Equal(e.classes, wantClasses) {
		t.Errorf("classes = %v, want %v", e.classes, wantClasses)
	}
	if c := e.crates[crateKey{"b", "1.0.0"}].cmp.Class; c != ClassPending {
		t.Errorf("b: class %q, want pending", c)
	}
}

func TestHeldResultsApplyOnRecord(t *testing.T) {
	e := newExperiment("exp")
	e.hold(res("a", "nightly", 2, streams.StatusTestPass))
	e.hold(res("a", "nightly", 1, streams.StatusBuildFail))
	e.hold(res("a", "stable", 1, streams.StatusBuildFail))
	e.hold(res("a", "beta", 1, streams.StatusBuildFail))
	var strays []string
	e.setRecord(testRecord(), func(tc string) { strays = append(strays, tc) })
	if e.done != 2 || !maps.Equal(e.classes, map[Class]int{ClassFixed: 1}) {
		t.Errorf("done %d classes %v, want 2 and one fixed", e.done, e.classes)
	}
	if len(strays) != 1 || strays[0] != "beta" {
		t.Errorf("strays = %q, want [beta]", strays)
	}
}
