package builder

import (
	"slices"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// With a slot per toolchain, each slot tries its own toolchain first, re-runs
// before first runs, so that it keeps to one of its shared targets; with
// fewer slots the toolchain tried first turns, so that both progress.
func TestCandidatesSlotToolchain(t *testing.T) {
	e := &streams.Experiment{Name: "exp", Toolchains: []string{"stable", "nightly"}}
	newQ := func(slots int) *queues {
		q := newQueues(&Builder{cfg: Config{Slots: slots}})
		q.order = []*streams.Experiment{e}
		q.tcs, q.tcsAt = map[string]bool{"stable": true, "nightly": true}, time.Now()
		return q
	}
	order := func(first, second string) []string {
		return []string{streams.RerunsConsumer("exp", first), streams.RerunsConsumer("exp", second),
			streams.JobsConsumer("exp", first), streams.JobsConsumer("exp", second)}
	}
	q := newQ(2)
	for range 3 { // whatever the turn
		if got, want := q.candidates(0), order("stable", "nightly"); !slices.Equal(got, want) {
			t.Errorf("slot 0 of 2: %v, want %v", got, want)
		}
		if got, want := q.candidates(1), order("nightly", "stable"); !slices.Equal(got, want) {
			t.Errorf("slot 1 of 2: %v, want %v", got, want)
		}
	}
	q = newQ(1)
	a, b := q.candidates(0), q.candidates(0)
	if a[0] == b[0] {
		t.Errorf("one slot, two toolchains: tried %s first twice in a row", a[0])
	}
}

// A queue found empty is not asked again for a while, unless a job is
// announced on it, even while the fetch that found it empty ran; nor when
// the builder does not follow the announcements.
func TestQueuesSkipEmpty(t *testing.T) {
	q := newQueues(&Builder{})
	name, other := streams.RerunsConsumer("exp", "stable"), streams.JobsConsumer("exp", "stable")
	n, _ := q.announced(name)
	q.foundEmpty(name, n)
	if _, skip := q.announced(name); skip {
		t.Error("a queue found empty is skipped while the builder follows no announcements")
	}
	q.noticed.Store(true)
	if _, skip := q.announced(name); !skip {
		t.Error("a queue just found empty is asked again")
	}
	if _, skip := q.announced(other); skip {
		t.Error("a queue never asked is skipped")
	}
	q.announce(name)
	if _, skip := q.announced(name); skip {
		t.Error("a queue skipped though a job was announced on it since")
	}
	n, _ = q.announced(name)
	q.announce(name) // while the fetch runs
	q.foundEmpty(name, n)
	if _, skip := q.announced(name); skip {
		t.Error("a queue skipped though a job was announced on it while it was found empty")
	}
	n, _ = q.announced(name)
	q.empty[name] = emptyQueue{until: time.Now().Add(-time.Millisecond), queued: n}
	if _, skip := q.announced(name); skip {
		t.Errorf("a queue found empty is still skipped after %s", emptyFor)
	}
}

// A deleted experiment's queues are forgotten: the consumers looked up or
// found missing, the queues found empty, the jobs announced. Another
// experiment's stay.
func TestQueuesForgetDeleted(t *testing.T) {
	q := newQueues(&Builder{})
	tcs := []string{"stable", "nightly"}
	q.setRecord("gone", &streams.Experiment{Name: "gone", Toolchains: tcs})
	q.setRecord("kept", &streams.Experiment{Name: "kept", Toolchains: tcs})
	names := func(exp string) []string {
		var out []string
		for _, tc := range tcs {
			out = append(out, streams.RerunsConsumer(exp, tc), streams.JobsConsumer(exp, tc))
		}
		return out
	}
	for _, name := range append(names("gone"), names("kept")...) {
		q.cons[name] = nil
		q.absent[name] = time.Now()
		q.announce(name)
		q.foundEmpty(name, 1)
	}
	q.setRecord("gone", nil)
	for _, name := range names("gone") {
		_, cons := q.cons[name]
		_, absent := q.absent[name]
		_, empty := q.empty[name]
		_, announced := q.queuedN[name]
		if cons || absent || empty || announced {
			t.Errorf("%s of a deleted experiment kept: consumer %v, missing %v, empty %v, announced %v", name, cons, absent, empty, announced)
		}
	}
	for _, name := range names("kept") {
		if _, ok := q.cons[name]; !ok || q.queuedN[name] != 1 || q.empty[name].queued != 1 || q.absent[name].IsZero() {
			t.Errorf("%s of a live experiment forgotten", name)
		}
	}
	if len(q.order) != 1 || q.order[0].Name != "kept" {
		t.Errorf("order after the delete: %v, want kept alone", q.order)
	}
}
