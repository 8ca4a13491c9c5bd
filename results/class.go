package results

// Class is how a crate version's two results compare, as crater names it
// (crater spells the "same-*" classes without the prefix).
type Class string

// The comparison classes.
const (
	ClassRegressed         Class = "regressed"
	ClassSpuriousRegressed Class = "spurious-regressed"
	ClassFixed             Class = "fixed"
	ClassSpuriousFixed     Class = "spurious-fixed"
	ClassSameBuildFail     Class = "same-build-fail"
	ClassSameTestFail      Class = "same-test-fail"
	ClassSameTestSkipped   Class = "same-test-skipped"
	ClassSameTestPass      Class = "same-test-pass"
	ClassBroken            Class = "broken"
	ClassPrepareFail       Class = "prepare-fail"
	ClassSkipped           Class = "skipped"
	ClassError             Class = "error"
	ClassUnknown           Class = "unknown"

	// ClassPending is not one of crater's classes: crater compares only at
	// the end, ejecta reports while builds are still running. A crate is
	// pending until both toolchains have a result. Pending crates are listed
	// in the report but never counted in streams.Progress.Classes.
	ClassPending Class = "pending"

	// ClassFlaky is not one of crater's classes: a regression that a
	// confirmation re-run did not reproduce.
	ClassFlaky Class = "flaky"
)

// Same reports whether c is one of the same-* classes: both toolchains
// did the same, nothing to triage.
func (c Class) Same() bool {
	switch c {
	case ClassSameBuildFail, ClassSameTestFail, ClassSameTestSkipped, ClassSameTestPass:
		return true
	}
	return false
}

// Classes lists every class in the order a report shows them: what needs a
// person's attention first, pending last.
var Classes = []Class{
	ClassRegressed, ClassFlaky, ClassFixed, ClassSpuriousRegressed, ClassSpuriousFixed,
	ClassUnknown, ClassError, ClassPrepareFail, ClassBroken, ClassSkipped,
	ClassSameBuildFail, ClassSameTestFail, ClassSameTestSkipped, ClassSameTestPass,
	ClassPending,
}

// Confirmation says where a regression stands with its re-runs.
const (
	// ConfirmationPending: a re-run is queued or running.
	ConfirmationPending = "pending"
	// ConfirmationConfirmed: every re-run regressed (or, for a first run
	// in a shared target, fixed or failed) the same way.
	ConfirmationConfirmed = "confirmed"
	// ConfirmationFlaky: a re-run disagreed; the class is flaky.
	ConfirmationFlaky = "flaky"
	// ConfirmationCleared: a spurious regression that passed its re-run,
	// or a verdict of a first run in a shared target that its re-run in a
	// clean target did not reproduce; the class is the re-run's.
	ConfirmationCleared = "cleared"
	// ConfirmationReproduced: a spurious regression that regressed again
	// in its re-run.
	ConfirmationReproduced = "reproduced"
	// ConfirmationRoot: a depends-on regression whose root cause, a crate
	// of the same experiment, regressed and was confirmed by its own
	// re-runs in clean targets; the crate is not re-run itself.
	ConfirmationRoot = "root-confirmed"
)

// CraterName is c as crater's Comparison serializes it in crater's
// results.json: the same-* classes without their prefix, as crater spells
// them. The two classes crater does not have become the nearest it has: a
// flaky regression is spurious-regressed (the compiler is probably not to
// blame, and crater's retry list takes it), a pending crate unknown (crater
// compares only complete pairs).
func (c Class) CraterName() string {
	switch c {
	case ClassSameBuildFail, ClassSameTestFail, ClassSameTestSkipped, ClassSameTestPass:
		return string(c[len("same-"):])
	case ClassFlaky:
		return string(ClassSpuriousRegressed)
	case ClassPending:
		return string(ClassUnknown)
	}
	return string(c)
}
