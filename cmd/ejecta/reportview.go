package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// reportClasses are the classes `report` lists crate by crate, as
// index.html does; the others are only counted.
var reportClasses = []results.Class{results.ClassRegressed, results.ClassFlaky, results.ClassSpuriousRegressed,
	results.ClassFixed, results.ClassSpuriousFixed, results.ClassUnknown}

// Crates a section lists at most: the rest are in index.html.
const (
	textMaxCrates     = 50
	markdownMaxCrates = 200 // a GitHub comment holds 65536 characters
)

// reportView is an experiment's report as `report` prints it, from its
// results.json: where to find it, the class counts, and the crates of
// reportClasses with their results and logs.
type reportView struct {
	f        *results.File
	st       store.Store
	web      string // the web UI's address; "" if unknown
	sections []reportSection
}

// reportSection is the crates of one class; regressions and fixes are
// grouped by root cause.
type reportSection struct {
	class  results.Class
	n      int
	groups []reportGroup
}

// reportGroup is a root cause and the crates it explains; label is empty
// for a crate whose failure is its own alone.
type reportGroup struct {
	label  string
	crates []results.CrateResult
}

// walk hands the section's crates, group by group, to crate, and each
// group's label to group before its crates, until limit crates were
// handed; it returns how many were.
func (s reportSection) walk(limit int, group func(label string), crate func(results.CrateResult)) int {
	shown := 0
	for _, g := range s.groups {
		if shown == limit {
			break
		}
		group(g.label)
		for _, c := range g.crates {
			if shown == limit {
				break
			}
			crate(c)
			shown++
		}
	}
	return shown
}

func newReportView(f *results.File, st store.Store, webURL string) *reportView {
	v := &reportView{f: f, st: st, web: strings.TrimSuffix(webURL, "/")}
	byClass := map[results.Class][]results.CrateResult{}
	for _, c := range f.Crates {
		byClass[c.Class] = append(byClass[c.Class], c)
	}
	for _, class := range reportClasses {
		crates := byClass[class]
		if len(crates) == 0 {
			continue
		}
		s := reportSection{class: class, n: len(crates)}
		switch class {
		case results.ClassRegressed:
			s.groups = byRootCause(crates, "regressed")
		case results.ClassFixed:
			s.groups = byRootCause(crates, "fixed")
		default:
			s.groups = []reportGroup{{crates: crates}}
		}
		v.sections = append(v.sections, s)
	}
	return v
}

// byRootCause groups crates as index.html does: a crate that failed on
// its own is a root cause, one that failed because dependency d did
// (depends-on(d)) is listed under d. Root causes come first, those that
// explain the most dependents first; then dependencies that are not in
// the list themselves.
func byRootCause(crates []results.CrateResult, verb string) []reportGroup {
	type group struct {
		name        string
		roots, deps []results.CrateResult
	}
	byName := map[string]*group{}
	get := func(name string) *group {
		if byName[name] == nil {
			byName[name] = &group{name: name}
		}
		return byName[name]
	}
	for _, c := range crates {
		if c.Root == "" {
			get(c.Name).roots = append(get(c.Name).roots, c)
		} else {
			get(c.Root).deps = append(get(c.Root).deps, c)
		}
	}
	groups := slices.SortedFunc(maps.Values(byName), func(a, b *group) int {
		if ra, rb := len(a.roots) > 0, len(b.roots) > 0; ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(len(b.deps), len(a.deps)), cmp.Compare(a.name, b.name))
	})
	out := make([]reportGroup, 0, len(groups))
	for _, g := range groups {
		var rg reportGroup
		switch n := len(g.deps); {
		case n > 0 && len(g.roots) > 0:
			rg.label = fmt.Sprintf("root cause %s: %d dependent%s %s because it did", g.name, n, plural(n), verb)
		case n > 0:
			rg.label = fmt.Sprintf("dependency %s (not %s itself in this experiment): %d dependent%s", g.name, verb, n, plural(n))
		}
		rg.crates = append(g.roots, g.deps...)
		out = append(out, rg)
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// progress says how far the experiment got, in one line.
func (v *reportView) progress() string {
	f := v.f
	confirming := 0
	for _, c := range f.Crates {
		if c.Confirmation == results.ConfirmationPending {
			confirming++
		}
	}
	switch {
	case f.State == streams.ExperimentAborted:
		return fmt.Sprintf("aborted after %d of %d builds", f.DoneJobs, f.TotalJobs)
	case f.DoneJobs < f.TotalJobs:
		s := fmt.Sprintf("running: %d of %d builds done", f.DoneJobs, f.TotalJobs)
		if f.RatePerMinute > 0 {
			s += fmt.Sprintf(", %.1f/min, about %s left", f.RatePerMinute, time.Duration(f.ETASeconds)*time.Second)
		}
		return s
	case confirming > 0:
		return fmt.Sprintf("%d builds done; %d regression%s being confirmed by re-runs", f.DoneJobs, confirming, plural(confirming))
	}
	s := fmt.Sprintf("finished: %d builds", f.DoneJobs)
	if f.Confirmations > 0 {
		s += fmt.Sprintf(", every regression re-run %d time%s to confirm it", f.Confirmations, plural(f.Confirmations))
	}
	return s
}

// counts are the class counts in the order of results.Classes.
func (v *reportView) counts() []classCount {
	var out []classCount
	for _, c := range results.Classes {
		if n := v.f.Classes[c]; n > 0 {
			out = append(out, classCount{c, n})
		}
	}
	return out
}

type classCount struct {
	class results.Class
	n     int
}

// reportLinks are where the report is: the web UI's page when it is
// known, and index.html in the store.
func (v *reportView) reportLinks() []string {
	var out []string
	if v.web != "" {
		out = append(out, v.web+web.ExperimentPath(v.f.Experiment))
	}
	return append(out, v.st.Location(reporter.IndexKey(v.f.Experiment)))
}

// logLink is where the log of run of crate c is: its web UI page when the
// web UI is known, else the stored log; "" if the result named none.
func (v *reportView) logLink(c results.CrateResult, run results.RunResult) string {
	if run.Log == "" {
		return ""
	}
	if v.web != "" {
		k := streams.BuildKey{Experiment: v.f.Experiment, Crate: c.Name, Version: c.Version, Toolchain: run.Toolchain}
		return v.web + web.LogPath(k, run.Attempt)
	}
	return v.st.Location(streams.ExperimentPrefix(v.f.Experiment) + run.Log)
}

// lineLink is log link l to the line of the first error fe, if it has
// one: an anchor on the web UI's log page, which numbers its lines; a
// note after a stored log, which is a file.
func (v *reportView) lineLink(l string, fe *streams.FirstError) string {
	switch {
	case fe == nil || fe.LogLine == 0:
		return l
	case v.web != "":
		return fmt.Sprintf("%s#L%d", l, fe.LogLine)
	}
	return fmt.Sprintf("%s (line %d)", l, fe.LogLine)
}

// firstErrorText is a first error as rustc prints its header:
// "error[E0308]: mismatched types", then where.
func firstErrorText(fe *streams.FirstError) string {
	s := "error"
	if fe.Code != "" {
		s += "[" + fe.Code + "]"
	}
	s += ": " + fe.Message
	if loc := fe.Location(); loc != "" {
		s += " at " + loc
	}
	return s
}

// text writes the report for a terminal.
func (v *reportView) text(w io.Writer) error {
	f := v.f
	fmt.Fprintf(w, "experiment %s: %s, %s\n", printable(f.Experiment), printable(strings.Join(f.Toolchains, " → ")), f.Mode)
	fmt.Fprintln(w, v.progress())
	for i, l := range v.reportLinks() {
		label := "report "
		if i > 0 {
			label = "       "
		}
		fmt.Fprintf(w, "%s %s\n", label, printable(l))
	}
	if counts := v.counts(); len(counts) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		for _, c := range counts {
			fmt.Fprintf(tw, "%d\t %s\n", c.n, c.class)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range v.sections {
		fmt.Fprintf(w, "\n%s: %d crate%s\n", strings.ToUpper(string(s.class)), s.n, plural(s.n))
		shown := s.walk(textMaxCrates, func(label string) {
			if label != "" {
				fmt.Fprintf(w, "  %s\n", printable(label))
			}
		}, func(c results.CrateResult) { v.textCrate(w, c) })
		if shown < s.n {
			fmt.Fprintf(w, "  ... and %d more: see the report\n", s.n-shown)
		}
	}
	return nil
}

// textCrate writes one crate: its name and where its regression stands,
// then each toolchain's result with its log below it.
func (v *reportView) textCrate(w io.Writer, c results.CrateResult) {
	head := "  " + c.Name + " " + c.Version
	if c.Confirmation != "" {
		head += ", " + c.Confirmation
	}
	if c.Note != "" {
		head += " (" + c.Note + ")"
	}
	fmt.Fprintln(w, printable(head))
	width := 0
	for _, r := range c.Results {
		width = max(width, len(r.Toolchain))
	}
	for _, r := range c.Results {
		line := fmt.Sprintf("    %-*s  %s", width+1, r.Toolchain+":", r.Status)
		if r.Reason != "" {
			line += " " + string(r.Reason)
		}
		if r.SharedTarget {
			line += ", shared target"
		}
		fmt.Fprintln(w, printable(line))
		fe := r.FirstError
		if fe != nil && !c.Class.Same() {
			fmt.Fprintf(w, "    %*s  %s\n", width+1, "", printable(firstErrorText(fe)))
		}
		if l := v.logLink(c, r); l != "" {
			fmt.Fprintf(w, "    %*s  log %s\n", width+1, "", printable(v.lineLink(l, fe)))
		}
	}
}

// markdown writes the report for a GitHub comment.
func (v *reportView) markdown(w io.Writer) error {
	f := v.f
	fmt.Fprintf(w, "# Experiment %s\n\n", mdEscape(f.Experiment))
	fmt.Fprintf(w, "%s, %s: %s.", mdEscape(strings.Join(f.Toolchains, " → ")), mdEscape(string(f.Mode)), mdEscape(v.progress()))
	if v.web != "" {
		fmt.Fprintf(w, " [Report](%s).", mdLink(v.reportLinks()[0]))
	}
	fmt.Fprint(w, "\n\n| class | crates |\n|---|---|\n")
	for _, c := range v.counts() {
		fmt.Fprintf(w, "| %s | %d |\n", c.class, c.n)
	}
	for _, s := range v.sections {
		fmt.Fprintf(w, "\n## %s (%d)\n", s.class, s.n)
		shown := s.walk(markdownMaxCrates, func(label string) {
			fmt.Fprintln(w)
			if label != "" {
				fmt.Fprintf(w, "### %s\n\n", mdEscape(label))
			}
		}, func(c results.CrateResult) { v.markdownCrate(w, c) })
		if shown < s.n {
			fmt.Fprintf(w, "\n… and %d more, see the report\n", s.n-shown)
		}
	}
	return nil
}

func (v *reportView) markdownCrate(w io.Writer, c results.CrateResult) {
	fmt.Fprintf(w, "- **%s %s**", mdEscape(c.Name), mdEscape(c.Version))
	if c.Confirmation != "" {
		fmt.Fprintf(w, " (%s)", mdEscape(c.Confirmation))
	}
	for i, r := range c.Results {
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(w, "%s%s %s", sep, mdEscape(r.Toolchain), mdEscape(string(r.Status)))
		if r.Reason != "" {
			fmt.Fprintf(w, " %s", mdEscape(string(r.Reason)))
		}
		if r.SharedTarget {
			fmt.Fprint(w, ", shared target")
		}
		if l := v.logLink(c, r); l != "" {
			fmt.Fprintf(w, " ([log](%s))", mdLink(l))
		}
	}
	fmt.Fprintln(w)
	if r, ok := firstErrorRun(c); ok {
		fe := r.FirstError
		fmt.Fprintf(w, "  - first error (%s):", mdEscape(r.Toolchain))
		if fe.Code != "" {
			fmt.Fprintf(w, " %s", reporter.MarkdownCode(fe.Code))
		}
		// The build's own text: code spans, never markup.
		fmt.Fprintf(w, " %s", reporter.MarkdownCode(fe.Message))
		if loc := fe.Location(); loc != "" {
			fmt.Fprintf(w, " at %s", reporter.MarkdownCode(loc))
		}
		if l := v.logLink(c, r); l != "" && fe.LogLine > 0 && v.web != "" {
			fmt.Fprintf(w, " ([log line %d](%s))", fe.LogLine, mdLink(v.lineLink(l, fe)))
		}
		fmt.Fprintln(w)
	}
}

// firstErrorRun is the run of c whose first error matters, as markdown.md
// picks it: none for a same-* crate; the baseline's for a fix (what was
// fixed); the new toolchain's otherwise; the other run's when that one has
// none.
func firstErrorRun(c results.CrateResult) (results.RunResult, bool) {
	if c.Class.Same() || len(c.Results) == 0 {
		return results.RunResult{}, false
	}
	runs := slices.Clone(c.Results)
	if c.Class != results.ClassFixed && c.Class != results.ClassSpuriousFixed {
		slices.Reverse(runs)
	}
	for _, r := range runs {
		if r.FirstError != nil {
			return r, true
		}
	}
	return results.RunResult{}, false
}

// mdReplacer escapes what CommonMark would read as markup, and HTML: names
// and reasons must stay text when pasted.
var mdReplacer = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_{}[]()<>#+-.!|~&" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(append(pairs, "\n", " ", "\r", " ")...)
}()

func mdEscape(s string) string { return mdReplacer.Replace(printable(s)) }

// mdLink makes a URL or path safe inside a markdown link's parentheses.
func mdLink(s string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace(printable(s))
}
