package reporter

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/results"
)

// markdownMaxRows bounds the crates markdown.md lists per class, so that it
// still fits a GitHub comment (65536 characters) in a bad run.
const markdownMaxRows = 200

// markdownReplacer escapes what CommonMark would read as markup, and HTML:
// a reason is text from a log and must stay text when pasted.
var markdownReplacer = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_{}[]()<>#+-.!|~&" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(append(pairs, "\n", " ", "\r", " ")...)
}()

func mdEscape(s string) string { return markdownReplacer.Replace(s) }

// markdownMD renders markdown.md: progress, counts and the regressions and
// fixes, for pasting into a GitHub comment.
func (e *experiment) markdownMD(now time.Time) []byte {
	var b bytes.Buffer
	p := e.progressView(now)
	fmt.Fprintf(&b, "# Experiment %s\n\n", mdEscape(e.name))
	fmt.Fprintf(&b, "%s → %s, %s. Progress: %d / %d builds (%s)", mdEscape(p.Baseline), mdEscape(p.New),
		mdEscape(p.Mode), p.Done, p.Total, p.Percent)
	if p.Rate != "" {
		fmt.Fprintf(&b, ", %s builds/min, %s left", p.Rate, p.ETA)
	}
	fmt.Fprintf(&b, ". Updated %s.\n\n", p.Updated)
	if p.Aborted {
		b.WriteString("**Aborted**: the builds not done when it was stopped will not run, and its regressions are not re-run.\n\n")
	}
	b.WriteString("| class | crates |\n|---|---|\n")
	for _, c := range e.counts() {
		fmt.Fprintf(&b, "| %s | %d |\n", c.Class, c.N)
	}
	for _, c := range indexClasses {
		crates := e.sorted(c)
		if len(crates) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s (%d)\n\n", c, len(crates))
		for i, cs := range crates {
			if i == markdownMaxRows {
				fmt.Fprintf(&b, "- … and %d more, see index.html\n", len(crates)-i)
				break
			}
			fmt.Fprintf(&b, "- %s %s", mdEscape(cs.key.name), mdEscape(cs.key.version))
			if r := cs.runs[1]; r != nil {
				fmt.Fprintf(&b, ": %s", mdEscape(string(r.Status)))
				if r.Reason != "" {
					fmt.Fprintf(&b, " (%s)", mdEscape(string(r.Reason)))
				}
			}
			if cs.v.Confirmation != "" {
				fmt.Fprintf(&b, ", %s", cs.v.Confirmation)
			}
			if cs.v.Root != "" {
				fmt.Fprintf(&b, ", root cause %s", mdEscape(cs.v.Root))
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// retryList renders retry-regressed-list.txt: one name@version per line for
// every regressed, flaky and spurious-regressed crate, the format of
// `experiment create --crates @FILE`.
func (e *experiment) retryList() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# regressed, flaky and spurious-regressed crates of experiment %s\n", e.name)
	for _, c := range []results.Class{results.ClassRegressed, results.ClassFlaky, results.ClassSpuriousRegressed} {
		for _, cs := range e.sorted(c) {
			fmt.Fprintf(&b, "%s@%s\n", cs.key.name, cs.key.version)
		}
	}
	return b.Bytes()
}
