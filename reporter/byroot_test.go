package reporter

import (
	"slices"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// TestDependentsAreConfirmedByTheirRoot runs the cascade crater runs are
// full of: one crate breaks on the new toolchain and the crates above it
// fail with depends-on. Only the root is re-run; its confirmation confirms
// its dependents. A root that is cleared leaves its dependents to re-runs
// of their own, and so does a root that is not in the experiment, once
// the first run is complete.
func TestDependentsAreConfirmedByTheirRoot(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("casc", 7)
	first := func(name string, o Outcome) {
		e.publish(result("casc", name, "1.0.0", "stable", 1, oPass.Status, ""))
		e.publish(result("casc", name, "1.0.0", "nightly", 1, o.Status, o.Reason))
	}
	first("root", bf("compiler-error(E0635)"))
	first("above", bf("depends-on(root)"))
	first("pinned", bf("depends-on(root@1.0.0)"))
	first("lone", bf("depends-on(absent)"))
	first("shaky", oBuild)
	first("onshaky", bf("depends-on(shaky v1.0.0)"))
	stop := e.startReporter()
	defer func() { stop() }()
	e.waitResults("casc", 12)

	// rerunsOf lists the crates with re-run jobs queued.
	rerunsOf := func() []string {
		var names []string
		for _, job := range e.queuedJobs() {
			if !slices.Contains(names, job.Crate) {
				names = append(names, job.Crate)
			}
		}
		slices.Sort(names)
		return names
	}
	waitFor(t, "the roots' re-runs", func() bool { return len(e.queuedJobs()) == 4 })
	time.Sleep(10 * testDebounce)
	if got, want := rerunsOf(), []string{"root", "shaky"}; !slices.Equal(got, want) {
		t.Errorf("re-runs queued for %q while the first run goes on, want only the roots' %q", got, want)
	}

	// The first run completes: the dependent of a crate that is not in the
	// experiment is re-run.
	first("last", oPass)
	waitFor(t, "lone's re-runs", func() bool { return len(e.queuedJobs()) == 6 })
	f := e.waitResults("casc", 14)
	for _, name := range []string{"above", "pinned", "lone", "onshaky"} {
		if c := crateByName(t, f, name); c.Confirmation != results.ConfirmationPending || c.Class != results.ClassRegressed {
			t.Errorf("%s before its root's re-runs: %s, %q; want regressed, pending", name, c.Class, c.Confirmation)
		}
	}

	// root's re-run regresses again: confirmed, and so are the crates above
	// it, without a build of their own. shaky's passes: flaky, and the
	// crate above it gets its own re-runs.
	rerun := func(name, tc string, o Outcome) {
		e.publish(result("casc", name, "1.0.0", tc, streams.RerunAttemptBase(1)+1, o.Status, o.Reason))
	}
	rerun("root", "stable", oPass)
	rerun("root", "nightly", bf("compiler-error(E0635)"))
	rerun("shaky", "stable", oPass)
	rerun("shaky", "nightly", oPass)
	waitFor(t, "onshaky's re-runs", func() bool { return len(e.queuedJobs()) == 8 })
	waitFor(t, "root's dependents confirmed", func() bool {
		f = e.readResults("casc")
		return crateByName(t, f, "above").Confirmation == results.ConfirmationRoot
	})
	for name, want := range map[string]string{"root": results.ConfirmationConfirmed, "above": results.ConfirmationRoot,
		"pinned": results.ConfirmationRoot, "lone": results.ConfirmationPending, "shaky": results.ConfirmationFlaky,
		"onshaky": results.ConfirmationPending} {
		c := crateByName(t, f, name)
		if c.Confirmation != want {
			t.Errorf("%s: confirmation %q, want %q", name, c.Confirmation, want)
		}
		if want == results.ConfirmationRoot && (len(c.Reruns) != 0 || c.Class != results.ClassRegressed || c.Root != "root") {
			t.Errorf("%s: %+v, want a regression under root with no re-runs", name, c)
		}
	}
	// A dependent whose first run ends after its root was confirmed is
	// confirmed at once.
	e.putExperiment("casc", 8)
	first("late", bf("depends-on(root)"))
	waitFor(t, "late confirmed by its root", func() bool {
		f = e.readResults("casc")
		return f.DoneJobs == 16 && crateByName(t, f, "late").Confirmation == results.ConfirmationRoot
	})
	if got, want := rerunsOf(), []string{"lone", "onshaky", "root", "shaky"}; !slices.Equal(got, want) {
		t.Errorf("re-runs queued for %q, want %q", got, want)
	}
	if p := e.progress("casc"); p.Confirming != 2 {
		t.Errorf("progress: %d confirming, want 2 (lone, onshaky)", p.Confirming)
	}

	// A restarted reporter draws the same verdicts from the stream and
	// queues nothing more.
	stop()
	stop = e.startReporter()
	waitFor(t, "the same verdicts after a restart", func() bool {
		f = e.readResults("casc")
		return f != nil && crateByName(t, f, "pinned").Confirmation == results.ConfirmationRoot
	})
	time.Sleep(10 * testDebounce)
	if n := len(e.queuedJobs()); n != 8 || crateByName(t, f, "late").Confirmation != results.ConfirmationRoot {
		t.Errorf("%d jobs after a restart, want still 8, and late %q", n, crateByName(t, f, "late").Confirmation)
	}
}

// Two crates that blame each other (results are hostile: a build prints
// what it likes) are no confirmation of each other: neither waits for the
// other, and once one that was confirmed by its own re-runs is retried,
// the other's root-confirmation goes with it instead of the two holding
// each other up.
func TestRootCycleConfirmsNothing(t *testing.T) {
	e := newExperiment("exp", 1)
	e.setRecord(testRecord())
	apply := func(crate, tc string, attempt int, status streams.Status, reason streams.Reason) {
		r := res(crate, tc, attempt, status)
		r.Reason = reason
		e.apply(r, func(string) {})
	}
	confirmation := func(crate string) string { return e.crates[crateKey{crate, "1.0.0"}].v.Confirmation }
	first := func(gen int, crate, blames string) {
		apply(crate, "stable", streams.AttemptBase(gen, 0)+1, streams.StatusTestPass, "")
		apply(crate, "nightly", streams.AttemptBase(gen, 0)+1, streams.StatusBuildFail, streams.DependsOn(blames))
	}
	first(0, "ca", "cb")
	first(0, "cb", "ca")
	for _, c := range []string{"ca", "cb"} {
		if got := confirmation(c); got != results.ConfirmationPending {
			t.Fatalf("%s: confirmation %q, want pending", c, got)
		}
		if e.awaitsRoot(e.crates[crateKey{c, "1.0.0"}]) {
			t.Errorf("%s waits for a root that blames it", c)
		}
	}
	// ca's own re-runs confirm it, and so cb by it.
	apply("ca", "stable", streams.AttemptBase(0, 1)+1, streams.StatusTestPass, "")
	apply("ca", "nightly", streams.AttemptBase(0, 1)+1, streams.StatusBuildFail, streams.DependsOn("cb"))
	if got := [2]string{confirmation("ca"), confirmation("cb")}; got != [2]string{results.ConfirmationConfirmed, results.ConfirmationRoot} {
		t.Fatalf("after ca's re-runs: %q, want confirmed, root-confirmed", got)
	}
	// ca is retried and regresses again: nothing of its own confirms it now.
	first(1, "ca", "cb")
	if got := [2]string{confirmation("ca"), confirmation("cb")}; got != [2]string{results.ConfirmationPending, results.ConfirmationPending} {
		t.Errorf("after ca's retry: %q, want both pending", got)
	}
}
