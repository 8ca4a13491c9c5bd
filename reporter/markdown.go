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

// markdown.md is made to be pasted into a GitHub comment, where more than
// markup acts: after rendering, GitHub turns "@name" and "@org/team" in
// text into mentions that notify them, "#123", "GH-123" and "owner/repo#123"
// into references that leave a trace on that issue, a commit hash and
// "www." or "https://" into links. A backslash does not stop them: they
// act on the rendered text, only not inside code. So everything that comes
// from a build, a crate or an experiment (names, versions, toolchains,
// reasons) is written as inline code, and only the report's own words and
// vocabulary (classes, statuses, modes) are text.

// mdCode is s as a CommonMark code span: shown as it is, never markup, a
// mention, a reference or a link, whatever bytes it holds.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	// The fence is one backtick longer than any run of them inside, and
	// set apart by a space (which CommonMark takes away) when s starts or
	// ends with one, or with a space.
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// MarkdownCode is s as a markdown code span (mdCode), for other writers
// of markdown that shows what builds printed.
func MarkdownCode(s string) string { return mdCode(s) }

// markdownMD renders markdown.md: progress, counts and the regressions and
// fixes, for pasting into a GitHub comment.
func (e *experiment) markdownMD(now time.Time) []byte {
	var b bytes.Buffer
	p := e.progressView(now)
	fmt.Fprintf(&b, "# Experiment %s\n\n", mdCode(e.name))
	fmt.Fprintf(&b, "%s → %s, %s. Progress: %d / %d builds (%s)", mdCode(p.Baseline), mdCode(p.New),
		p.Mode, p.Done, p.Total, p.Percent)
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
	if groups := e.signatureGroups(); len(groups) > 0 {
		b.WriteString("\n## Regressions by first error\n\n")
		for i, g := range groups {
			if i == markdownMaxRows {
				fmt.Fprintf(&b, "- … and %d more, see index.html\n", len(groups)-i)
				break
			}
			fmt.Fprintf(&b, "- %d× ", g.N)
			if g.Code != "" {
				fmt.Fprintf(&b, "%s ", mdCode(g.Code))
			}
			fmt.Fprintf(&b, "%s: ", mdCode(g.Signature))
			for j, c := range g.Crates {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(mdCode(c))
			}
			if g.More > 0 {
				fmt.Fprintf(&b, " and %d more", g.More)
			}
			b.WriteByte('\n')
		}
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
			fmt.Fprintf(&b, "- %s %s", mdCode(cs.key.name), mdCode(cs.key.version))
			if r := cs.runs[1]; r != nil {
				fmt.Fprintf(&b, ": %s", r.Status)
				if r.Reason != "" {
					fmt.Fprintf(&b, " (%s)", mdCode(string(r.Reason)))
				}
			}
			if cs.v.Confirmation != "" {
				fmt.Fprintf(&b, ", %s", cs.v.Confirmation)
			}
			if k := cs.known(); k != "" {
				fmt.Fprintf(&b, ", known from %s", mdCode(k))
			}
			if cs.runs.shared() {
				b.WriteString(", first run in a shared target")
			}
			if cs.v.Root != "" {
				fmt.Fprintf(&b, ", root cause %s", mdCode(cs.v.Root))
			}
			b.WriteByte('\n')
			if fe := cs.firstError(); fe != nil {
				b.WriteString("  - first error: ")
				if fe.Code != "" {
					fmt.Fprintf(&b, "%s ", mdCode(fe.Code))
				}
				b.WriteString(mdCode(fe.Message))
				if loc := fe.Location(); loc != "" {
					fmt.Fprintf(&b, " at %s", mdCode(loc))
				}
				if fe.LogLine > 0 {
					fmt.Fprintf(&b, ", log line %d", fe.LogLine)
				}
				b.WriteByte('\n')
			}
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
