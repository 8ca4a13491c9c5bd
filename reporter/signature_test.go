package reporter

import (
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

// Every crate that changed shows its first error in results.json,
// index.html, its full page and markdown.md; the regressions are grouped
// by first error, names masked, with a count per group.
func TestReportShowsFirstErrors(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp1", 6)
	failed := func(crate string, tc string, reason streams.Reason, fe streams.FirstError) streams.Result {
		r := result("exp1", crate, "1.0.0", tc, 1, streams.StatusBuildFail, reason)
		r.FirstError = &fe
		return r
	}
	pass := func(crate, tc string) streams.Result {
		return result("exp1", crate, "1.0.0", tc, 1, streams.StatusTestPass, "")
	}
	feature := func(crate, name string, logLine int) streams.FirstError {
		return streams.FirstError{Code: "E0635", Message: "unknown feature `" + name + "`", File: crate + "-1.0.0/src/lib.rs", Line: 92, LogLine: logLine}
	}
	typeErr := streams.FirstError{Code: "E0308", Message: "mismatched types", File: "echo-1.0.0/src/main.rs", Line: 7, LogLine: 40}
	for _, r := range []streams.Result{
		pass("alpha", "stable"), failed("alpha", "nightly", "compiler-error(E0635)", feature("alpha", "some_feature", 12)),
		pass("bravo", "stable"), failed("bravo", "nightly", "compiler-error(E0635)", feature("bravo", "other_feature", 31)),
		pass("charlie", "stable"), failed("charlie", "nightly", "compiler-error(clippy::needless_return)",
			streams.FirstError{Code: "clippy::needless_return", Message: "unneeded `return` statement", File: "charlie-1.0.0/src/lib.rs", Line: 3, LogLine: 20}),
		// Broken by alpha: alpha's error, counted once, with alpha.
		pass("delta", "stable"), failed("delta", "nightly", "depends-on(alpha)", feature("alpha", "some_feature", 15)),
		// Fixed: the baseline's error is what was fixed.
		failed("echo", "stable", "compiler-error(E0308)", typeErr), pass("echo", "nightly"),
		// Nothing changed: nothing to triage.
		failed("foxtrot", "stable", "compiler-error(E0599)", streams.FirstError{Code: "E0599", Message: "no method named `frobnicate` found"}),
		failed("foxtrot", "nightly", "compiler-error(E0599)", streams.FirstError{Code: "E0599", Message: "no method named `frobnicate` found"}),
	} {
		e.publish(r)
	}
	e.startReporter()
	f := e.waitResults("exp1", 12)

	if got := crateByName(t, f, "alpha").Results[1].FirstError; got == nil || *got != feature("alpha", "some_feature", 12) {
		t.Errorf("results.json: alpha's first error %+v", got)
	}
	index := string(e.store.read(t, IndexKey("exp1")))
	for _, want := range []string{
		`<div class="first-error"><code>E0635</code> unknown feature ` + "`some_feature`" + ` <span class="at">at <code>alpha-1.0.0/src/lib.rs:92</code></span> <span class="at">(log line 12)</span></div>`,
		`<code>E0308</code> mismatched types <span class="at">at <code>echo-1.0.0/src/main.rs:7</code></span>`,
		// The groups: the two unknown features are one.
		`<tr class="signature"><td>2</td><td><code>E0635</code></td><td>unknown feature ` + "`_`" + `</td><td>alpha 1.0.0, bravo 1.0.0</td></tr>`,
		`<tr class="signature"><td>1</td><td><code>clippy::needless_return</code></td><td>unneeded ` + "`_`" + ` statement</td><td>charlie 1.0.0</td></tr>`,
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	if strings.Count(index, `class="signature"`) != 2 {
		t.Errorf("index.html has %d groups, want 2", strings.Count(index, `class="signature"`))
	}
	foxtrot := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"full-fo.html"))
	if !strings.Contains(foxtrot, "same-build-fail") || strings.Contains(foxtrot, "frobnicate") {
		t.Errorf("full-fo.html: a same-build-fail crate's first error is shown, or the crate is not:\n%s", foxtrot)
	}
	if page := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"full-br.html")); !strings.Contains(page, "unknown feature `other_feature`") {
		t.Errorf("full-br.html lacks bravo's first error:\n%s", page)
	}

	md := string(e.store.read(t, streams.ExperimentPrefix("exp1")+"markdown.md"))
	for _, want := range []string{
		"## Regressions by first error\n\n" +
			"- 2× `E0635` `` unknown feature `_` ``: `alpha 1.0.0`, `bravo 1.0.0`\n" +
			"- 1× `clippy::needless_return` ``unneeded `_` statement``: `charlie 1.0.0`\n",
		"- `alpha` `1.0.0`: build-fail (`compiler-error(E0635)`), pending\n  - first error: `E0635` `` unknown feature `some_feature` `` at `alpha-1.0.0/src/lib.rs:92`, log line 12\n",
		"- `echo` `1.0.0`: test-pass\n  - first error: `E0308` `mismatched types` at `echo-1.0.0/src/main.rs:7`, log line 40\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown.md lacks\n%s\nin\n%s", want, md)
		}
	}
	if strings.Contains(md, `\.`) || strings.Contains(md, `\-`) {
		t.Errorf("markdown.md escapes . or -:\n%s", md)
	}
}

func TestSignature(t *testing.T) {
	for in, want := range map[string]string{
		"mismatched types":                                              "mismatched types",
		"unknown feature `some_feature`":                                "unknown feature `_`",
		"expected `u32`, found `&str`":                                  "expected `_`, found `_`",
		"this function takes 2 arguments but 3 arguments were supplied": "this function takes N arguments but N arguments were supplied",
		"unterminated ` backtick 42":                                    "unterminated ` backtick N",
		"":                                                              "",
	} {
		if got := signature(in); got != want {
			t.Errorf("signature(%q) = %q, want %q", in, got, want)
		}
	}
}

// With the web UI's address, a first error's log line links to that line
// on the UI's log page, which numbers its lines.
func TestFirstErrorLinksToTheWebLogLine(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("linked", 1)
	e.publish(result("linked", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	r := result("linked", "alpha", "1.0.0", "nightly", 2, streams.StatusBuildFail, "compiler-error(E0308)")
	r.FirstError = &streams.FirstError{Code: "E0308", Message: "mismatched types", File: "alpha-1.0.0/src/lib.rs", Line: 3, LogLine: 12}
	e.publish(r)
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1, WebURL: "https://ejecta.example.org/"})
	e.waitResults("linked", 2)
	want := `(<a href="https://ejecta.example.org/logs/linked/alpha/1.0.0/nightly/2#L12">log line 12</a>)`
	if index := string(e.store.read(t, IndexKey("linked"))); !strings.Contains(index, want) {
		t.Errorf("index.html lacks %s:\n%s", want, index)
	}
}
