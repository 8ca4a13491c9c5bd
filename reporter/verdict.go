package reporter

import (
	"fmt"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// ClassFlaky is not one of crater's classes: a regression that a
// confirmation re-run did not reproduce.
const ClassFlaky Class = "flaky"

// Confirmation says where a regression stands with its re-runs.
const (
	// ConfirmationPending: a re-run is queued or running.
	ConfirmationPending = "pending"
	// ConfirmationConfirmed: every re-run regressed the same way.
	ConfirmationConfirmed = "confirmed"
	// ConfirmationFlaky: a re-run disagreed; the class is flaky.
	ConfirmationFlaky = "flaky"
	// ConfirmationCleared: a spurious regression that passed its re-run;
	// the class is the re-run's.
	ConfirmationCleared = "cleared"
	// ConfirmationReproduced: a spurious regression that regressed again
	// in its re-run.
	ConfirmationReproduced = "reproduced"
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
func judge(cs *crateState, confirmations int) verdict {
	v := verdict{Comparison: cs.runs.compare()}
	switch v.Class {
	case ClassRegressed:
		v.Root = rootCause(outcome(cs.runs[1]).Reason)
	case ClassFixed:
		v.Root = rootCause(outcome(cs.runs[0]).Reason)
	}
	if confirmations <= 0 {
		return v
	}
	switch v.Class {
	case ClassRegressed:
		for round := 1; round <= confirmations; round++ {
			if round > len(cs.reruns) || !cs.reruns[round-1].complete() {
				v.Confirmation = ConfirmationPending
				return v
			}
			c := cs.reruns[round-1].compare()
			if c.Class != ClassRegressed {
				return verdict{
					Comparison: Comparison{ClassFlaky, fmt.Sprintf(
						"regressed (%s), but re-run %d was %s", describe(v.Comparison), round, c.Class)},
					Confirmation: ConfirmationFlaky,
				}
			}
		}
		v.Confirmation = ConfirmationConfirmed
	case ClassSpuriousRegressed:
		if len(cs.reruns) < 1 || !cs.reruns[0].complete() {
			v.Confirmation = ConfirmationPending
			return v
		}
		c := cs.reruns[0].compare()
		if c.Class == ClassRegressed || c.Class == ClassSpuriousRegressed {
			v.Confirmation = ConfirmationReproduced
			return v
		}
		return verdict{
			Comparison:   Comparison{c.Class, fmt.Sprintf("spurious regression (%s) cleared by a re-run", v.Note)},
			Confirmation: ConfirmationCleared,
		}
	}
	return v
}

func describe(c Comparison) string {
	if c.Note != "" {
		return c.Note
	}
	return string(c.Class)
}

// rootCause returns the dependency a failure reason blames, or "" if the
// reason is not depends-on(...). Crater writes several dependencies
// comma-separated; the first one is the group. A dependency may be spelled
// "name", "name@version" or "name version".
func rootCause(reason streams.Reason) string {
	args := reason.Args()
	if reason.Kind() != streams.ReasonDependsOn || len(args) == 0 {
		return ""
	}
	first, _, _ := strings.Cut(args[0], "@")
	first, _, _ = strings.Cut(first, " ")
	return first
}
