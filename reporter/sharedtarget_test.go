package reporter

import (
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// A fix whose first run built in a builder's shared target is re-run in a
// clean one before it stands; one from clean targets is not. The report
// says which attempts used a shared target.
func TestSharedTargetFixesAreConfirmed(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("st", 2)
	shared := func(r streams.Result) streams.Result { r.SharedTarget = true; return r }
	e.publish(shared(result("st", "fix", "1.0.0", "stable", 1, streams.StatusBuildFail, "unknown")))
	e.publish(shared(result("st", "fix", "1.0.0", "nightly", 1, streams.StatusTestPass, "")))
	e.publish(result("st", "clean", "1.0.0", "stable", 1, streams.StatusBuildFail, "unknown"))
	e.publish(result("st", "clean", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	stop := e.startReporter()
	defer stop()
	f := e.waitResults("st", 4)
	if c := crateByName(t, f, "fix"); c.Class != results.ClassFixed || c.Confirmation != results.ConfirmationPending || !c.Results[0].SharedTarget {
		t.Errorf("fix: %+v, want fixed, pending its re-run, its results marked shared", c)
	}
	if c := crateByName(t, f, "clean"); c.Confirmation != "" || c.Results[0].SharedTarget {
		t.Errorf("clean: %+v, want an unconfirmed fix, nothing shared", c)
	}
	// The fix is listed, pending, with its attempts marked.
	waitFor(t, "index.html and markdown.md marking the shared attempts", func() bool {
		return strings.Contains(string(e.store.read(t, IndexKey("st"))), "shared target</span>") &&
			strings.Contains(string(e.store.read(t, streams.ExperimentPrefix("st")+markdownFileName)), "`fix` `1.0.0`: test-pass, pending, first run in a shared target")
	})
	var jobs map[string]streams.Job
	waitFor(t, "two re-run jobs", func() bool { jobs = e.queuedJobs(); return len(jobs) == 2 })
	for id, job := range jobs {
		if job.Crate != "fix" || job.AttemptBase != streams.RerunAttemptBase(1) {
			t.Errorf("re-run %s: %+v, want one of fix's", id, job)
		}
	}
	// In a clean target the crate builds on both: the fix was the shared
	// target's doing, and the clean re-run's verdict stands.
	e.publish(result("st", "fix", "1.0.0", "stable", streams.RerunAttemptBase(1)+1, streams.StatusTestPass, ""))
	e.publish(result("st", "fix", "1.0.0", "nightly", streams.RerunAttemptBase(1)+1, streams.StatusTestPass, ""))
	waitFor(t, "the re-run judged", func() bool {
		f = e.readResults("st")
		return crateByName(t, f, "fix").Class == results.ClassSameTestPass
	})
	if c := crateByName(t, f, "fix"); c.Confirmation != results.ConfirmationCleared || len(c.Reruns) != 1 || c.Reruns[0][0].SharedTarget {
		t.Errorf("fix after its re-run: %+v", c)
	}
}
