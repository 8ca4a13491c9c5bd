package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// TestSharedTargetCorruptionDoesNotChangeVerdicts runs, on one builder
// slot, three experiments one after the other: one builds a crate on top
// of ejecta-shared-leaf (the slot's shared targets now hold the leaf's
// artifacts), one a crate whose build script overwrites those artifacts
// with garbage, one another crate on top of the leaf. That last crate's
// first runs fail on both toolchains in the corrupted targets; its verdict
// is still what a clean build gives, same-test-pass, from the re-runs in
// clean targets that a failure in a shared target gets.
func TestSharedTargetCorruptionDoesNotChangeVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var st store.Store
	fm := startFarmWith(t, ctx, testfarm.Config{Name: "e2e-shared", Slots: 1,
		Reporter: reporter.Config{Debounce: 200 * time.Millisecond}}, fileStore(&st))

	run := func(name, crate string) results.CrateResult {
		t.Helper()
		if _, err := producer.New(fm.js, fm.log).Create(ctx, producer.Request{
			Name: name, Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
			Crates: crate, CrateSource: fm.registry,
		}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(4 * time.Minute)
		for {
			if time.Now().After(deadline) {
				t.Fatalf("experiment %s not finished in time", name)
			}
			time.Sleep(500 * time.Millisecond)
			s, err := status.Get(ctx, fm.js, name)
			if err != nil || !s.Finished() {
				continue
			}
			data, err := readObject(ctx, t, st, results.Key(name))
			if err != nil {
				continue
			}
			var f results.File
			if err := json.Unmarshal([]byte(data), &f); err != nil {
				t.Fatalf("results.json of %s: %v", name, err)
			}
			if len(f.Crates) == 1 && f.Crates[0].Class != results.ClassPending && f.Crates[0].Confirmation != results.ConfirmationPending {
				c := f.Crates[0]
				t.Logf("%s: %s %s (%s), results %+v, re-runs %+v", name, c.Name, c.Class, c.Note, c.Results, c.Reruns)
				return c
			}
		}
	}
	if c := run("shared-warm", "ejecta-shared-user"); c.Class != results.ClassSameTestPass || !c.Results[0].SharedTarget {
		t.Fatalf("the crate warming the shared targets: %+v", c)
	}
	if c := run("shared-corrupt", "ejecta-shared-corrupt"); c.Class != results.ClassSameTestPass {
		t.Fatalf("the corrupting crate: %+v", c)
	}
	victim := run("shared-victim", "ejecta-shared-victim")
	if victim.Class != results.ClassSameTestPass || victim.Confirmation != results.ConfirmationCleared {
		t.Errorf("the crate built after the corruption: class %s (%s), confirmation %q; want same-test-pass, cleared by its re-runs",
			victim.Class, victim.Note, victim.Confirmation)
	}
	// The corruption did reach its first runs, which said where they built;
	// the re-runs built in clean targets.
	for i, r := range victim.Results {
		if r.Status != streams.StatusBuildFail || !r.SharedTarget {
			t.Errorf("first run on %s: %s %s, shared target %v; want a failure in the corrupted shared target", r.Toolchain, r.Status, r.Reason, r.SharedTarget)
		}
		if len(victim.Reruns) != 1 || len(victim.Reruns[0]) != 2 {
			t.Fatalf("re-runs %+v, want one round", victim.Reruns)
		}
		if rr := victim.Reruns[0][i]; rr.Status != streams.StatusTestPass || rr.SharedTarget {
			t.Errorf("re-run on %s: %s, shared target %v; want test-pass in a clean target", rr.Toolchain, rr.Status, rr.SharedTarget)
		}
	}
}
