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
func judge(cs *crateState, confirmations int) verdict {
	v := verdict{Comparison: cs.runs.compare()}
	switch v.Class {
	case results.ClassRegressed:
		v.Root = rootCause(outcome(cs.runs[1]).Reason)
	case results.ClassFixed:
		v.Root = rootCause(outcome(cs.runs[0]).Reason)
	}
	if confirmations <= 0 {
		return v
	}
	switch v.Class {
	case results.ClassRegressed:
		for round := 1; round <= confirmations; round++ {
			if round > len(cs.reruns) || !cs.reruns[round-1].complete() {
				v.Confirmation = results.ConfirmationPending
				return v
			}
			c := cs.reruns[round-1].compare()
			if c.Class != results.ClassRegressed {
				return verdict{
					Comparison: Comparison{results.ClassFlaky, fmt.Sprintf(
						"regressed (%s), but re-run %d was %s", describe(v.Comparison), round, c.Class)},
					Confirmation: results.ConfirmationFlaky,
				}
			}
		}
		v.Confirmation = results.ConfirmationConfirmed
	case results.ClassSpuriousRegressed:
		if len(cs.reruns) < 1 || !cs.reruns[0].complete() {
			v.Confirmation = results.ConfirmationPending
			return v
		}
		c := cs.reruns[0].compare()
		if c.Class == results.ClassRegressed || c.Class == results.ClassSpuriousRegressed {
			v.Confirmation = results.ConfirmationReproduced
			return v
		}
		return verdict{
			Comparison:   Comparison{c.Class, fmt.Sprintf("spurious regression (%s) cleared by a re-run", v.Note)},
			Confirmation: results.ConfirmationCleared,
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
