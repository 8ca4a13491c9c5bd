package reporter

import (
	"maps"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
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
	e := newExperiment("exp", 0)
	e.setRecord(testRecord())
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
	wantClasses := map[results.Class]int{results.ClassRegressed: 1}
	if !maps.Equal(e.classes, wantClasses) {
		t.Errorf("classes = %v, want %v", e.classes, wantClasses)
	}
	if c := e.crates[crateKey{"b", "1.0.0"}].v.Class; c != results.ClassPending {
		t.Errorf("b: class %q, want pending", c)
	}
}

func TestWriteSchedule(t *testing.T) {
	const d = time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	e := newExperiment("exp", 0)
	if !e.dueAt().IsZero() {
		t.Fatal("due with nothing changed")
	}
	// A burst: the write goes out a tenth of the debounce after it ends.
	e.markDirty(ms(0), d)
	e.markDirty(ms(50), d)
	if got := e.dueAt(); !got.Equal(ms(150)) {
		t.Errorf("after a burst: due %v, want 150ms", got.Sub(t0))
	}
	// That write happens; results keep trickling in: no sooner than a
	// debounce after it.
	e.lastWrite, e.due, e.quiet = ms(150), time.Time{}, time.Time{}
	e.markDirty(ms(300), d)
	if got := e.dueAt(); !got.Equal(ms(1150)) {
		t.Errorf("after a write at 150ms: due %v, want 1150ms", got.Sub(t0))
	}
	// A steady stream never postpones the write past a debounce after its
	// first change.
	for i := 400; i < 3000; i += 50 {
		e.markDirty(ms(i), d)
	}
	if got := e.dueAt(); !got.Equal(ms(1300)) {
		t.Errorf("steady stream: due %v, want 1300ms", got.Sub(t0))
	}
	e.retryAt(ms(5000))
	if got := e.dueAt(); !got.Equal(ms(5000)) {
		t.Errorf("retry: due %v, want 5000ms", got.Sub(t0))
	}

	// A write that took 2 s (an experiment at crater's size): under a
	// steady stream the next goes writeSpacing times that after the first
	// change, not a debounce.
	e.lastWrite, e.due, e.quiet = ms(5000), time.Time{}, time.Time{}
	e.wrote(2 * time.Second)
	for i := 5100; i < 20000; i += 50 {
		e.markDirty(ms(i), d)
	}
	if got := e.dueAt(); !got.Equal(ms(13100)) {
		t.Errorf("steady stream after a 2 s write: due %v, want 13100ms", got.Sub(t0))
	}
	// A burst that ends goes out once it is quiet, but not before the
	// last write has taken its time again after it began.
	e.due, e.quiet = time.Time{}, time.Time{}
	e.markDirty(ms(5100), d)
	if got := e.dueAt(); !got.Equal(ms(7000)) {
		t.Errorf("burst after a 2 s write: due %v, want 7000ms", got.Sub(t0))
	}
	e.markDirty(ms(8000), d)
	if got := e.dueAt(); !got.Equal(ms(8100)) {
		t.Errorf("burst ending at 8000ms after a 2 s write: due %v, want 8100ms", got.Sub(t0))
	}
}

// TestKeptSharesLabels checks that results with the same words share one
// copy of them, and that a disputed result, made from a held one, changes
// neither that copy nor the held result.
func TestKeptSharesLabels(t *testing.T) {
	e := newExperiment("e", 0)
	a := e.keep(res("a", "stable", 1, streams.StatusTestPass))
	b := e.keep(res("b", "stable", 1, streams.StatusTestPass))
	c := e.keep(res("c", "nightly", 1, streams.StatusTestPass))
	if a.labels != b.labels {
		t.Errorf("two results of the same words have copies of their own")
	}
	if a.labels == c.labels {
		t.Errorf("results of other toolchains share labels")
	}
	came := e.keep(res("a", "stable", 2, streams.StatusTestPass))
	d := disputed(a, came)
	if d.Status != streams.StatusError || d.Reason != streams.ReasonDisputed {
		t.Errorf("disputed result is %s/%s", d.Status, d.Reason)
	}
	if a.Status != streams.StatusTestPass || b.Status != streams.StatusTestPass || b.Reason != "" {
		t.Errorf("a dispute changed results that share its labels: %s, %s/%s", a.Status, b.Status, b.Reason)
	}
}
