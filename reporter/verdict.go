package reporter

import (
	"fmt"
	"strings"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// verdict is what a report says about a crate version.
type verdict struct {
	Comparison
	Confirmation string
	// Root is the dependency a depends-on(...) regression or fix is
	// grouped under; empty when the crate is its own root cause.
	Root string
}

// judge draws the verdict on cs from its first run and its confirmation
// re-runs. confirmations is how many re-runs confirm a regression (0: no
// confirmation). A spurious regression gets one re-run whatever the count.
// A verdict that rests on a shared target (either side of the first run
// built in one, which earlier crates' build scripts could write to) is
// never left to it alone: a fix, a spurious fix and a failure on both
// sides (same-build-fail, same-test-fail: a corrupted target fails every
// toolchain alike) then get one re-run too, and so does a regression when
// confirmations are off (rounds). Re-runs build in a clean target, and
// where one disagrees with a first run from a shared target, the re-run's
// comparison is the verdict (cleared): the shared target may be why they
// differ, and flaky would blame the crate.
func judge(cs *crateState, confirmations int) verdict {
	v := verdict{Comparison: cs.runs.compare()}
	switch v.Class {
	case results.ClassRegressed:
		v.Root = rootCause(outcome(cs.runs[1]).Reason)
	case results.ClassFixed:
		v.Root = rootCause(outcome(cs.runs[0]).Reason)
	}
	n := rounds(v.Class, cs.runs.shared(), confirmations)
	if n == 0 {
		return v
	}
	switch v.Class {
	case results.ClassRegressed, results.ClassFixed, results.ClassSameBuildFail, results.ClassSameTestFail:
		for round := 1; round <= n; round++ {
			if round > len(cs.reruns) || !cs.reruns[round-1].complete() {
				v.Confirmation = results.ConfirmationPending
				return v
			}
			c := cs.reruns[round-1].compare()
			if c.Class != v.Class && cs.runs.shared() {
				return verdict{
					Comparison: Comparison{c.Class, fmt.Sprintf(
						"%s in a shared target, but %s in a clean one (re-run %d)", withNote(v.Comparison), c.Class, round)},
					Confirmation: results.ConfirmationCleared,
				}
			}
			if c.Class != v.Class {
				return verdict{
					Comparison: Comparison{results.ClassFlaky, fmt.Sprintf(
						"%s (%s), but re-run %d was %s", v.Class, describe(v.Comparison), round, c.Class)},
					Confirmation: results.ConfirmationFlaky,
				}
			}
		}
		v.Confirmation = results.ConfirmationConfirmed
	case results.ClassSpuriousRegressed, results.ClassSpuriousFixed:
		if len(cs.reruns) < 1 || !cs.reruns[0].complete() {
			v.Confirmation = results.ConfirmationPending
			return v
		}
		c := cs.reruns[0].compare()
		if c.Class == v.Class || c.Class == unspurious(v.Class) {
			v.Confirmation = results.ConfirmationReproduced
			return v
		}
		what := "spurious regression"
		if v.Class == results.ClassSpuriousFixed {
			what = "spurious fix"
		}
		return verdict{
			Comparison:   Comparison{c.Class, fmt.Sprintf("%s (%s) cleared by a re-run", what, v.Note)},
			Confirmation: results.ConfirmationCleared,
		}
	}
	return v
}

// rounds is how many confirmation re-runs a crate of class waits for;
// shared says its first run built in a shared target on either side.
func rounds(class results.Class, shared bool, confirmations int) int {
	switch class {
	case results.ClassRegressed:
		if confirmations > 0 {
			return confirmations
		}
	case results.ClassSpuriousRegressed:
		if confirmations > 0 {
			return 1
		}
	case results.ClassFixed, results.ClassSpuriousFixed, results.ClassSameBuildFail, results.ClassSameTestFail:
	default:
		return 0 // passes, broken, error, ...: nothing to confirm
	}
	if shared {
		return 1
	}
	return 0
}

// unspurious is the class a spurious one is when its re-run fails for a
// reason that is not spurious.
func unspurious(c results.Class) results.Class {
	if c == results.ClassSpuriousFixed {
		return results.ClassFixed
	}
	return results.ClassRegressed
}

// withNote is c's class, and its note if it has one.
func withNote(c Comparison) string {
	if c.Note != "" {
		return fmt.Sprintf("%s (%s)", c.Class, c.Note)
	}
	return string(c.Class)
}

func describe(c Comparison) string {
	if c.Note != "" {
		return c.Note
	}
	return string(c.Class)
}

// rootCause returns the dependency a failure reason blames, or "" if the
// reason is not depends-on(...). Crater writes several dependencies
// comma-separated; the first one is the group.
func rootCause(reason streams.Reason) string {
	name, _ := dependency(reason)
	return name
}

// dependency returns the name and version ("" when not given) of the first
// dependency a depends-on(...) reason names; "" if it is not one. A
// dependency may be spelled "name", "name@version", "name version" or
// "name vversion".
func dependency(reason streams.Reason) (name, version string) {
	args := reason.Args()
	if reason.Kind() != streams.ReasonDependsOn || len(args) == 0 {
		return "", ""
	}
	if name, version, ok := strings.Cut(args[0], "@"); ok {
		return name, version
	}
	name, version, _ = strings.Cut(args[0], " ")
	return name, strings.TrimPrefix(version, "v")
}
