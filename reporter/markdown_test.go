package reporter

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// outsideCode is markdown source md without its code spans (CommonMark:
// a run of n backticks up to the next run of exactly n), which is what
// GitHub's mention, reference and link filters read: they skip code.
func outsideCode(md string) string {
	var b strings.Builder
	for i := 0; i < len(md); {
		if md[i] != '`' {
			b.WriteByte(md[i])
			i++
			continue
		}
		n := 0
		for i+n < len(md) && md[i+n] == '`' {
			n++
		}
		closing := -1
		for j := i + n; j < len(md); {
			if md[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(md) && md[j+m] == '`' {
				m++
			}
			if m == n {
				closing = j
				break
			}
			j += m
		}
		if closing < 0 {
			b.WriteString(md[i : i+n]) // no closing run: literal backticks
			i += n
			continue
		}
		b.WriteString(" CODE ")
		i = closing + n
	}
	return b.String()
}

// The markdown summary is pasted into GitHub comments: whatever a crate
// made its reason (or a forged result carried, with tickets off), nothing
// in it mentions a user or team, references an issue, links anywhere or is
// HTML. Before, "depends-on(@rust-lang/security)" came out as a mention,
// backslashes or not.
func TestMarkdownMentionsNoOne(t *testing.T) {
	e := newExperiment("x", 0)
	e.setRecord(&streams.Experiment{V: 1, Name: "x", Toolchains: []string{"stable", "nightly"}, Mode: streams.ModeCheckOnly,
		CrateSource: "/src", Crates: 1, Jobs: 2})
	hostile := []streams.Reason{
		"depends-on(@rust-lang/security)",
		"depends-on(org/repo#123, GH-42,rust-lang/rust@1234567)",
		"compiler-error(#123)",
		"compiler-error(`@x` <img src=x>)",
		"compiler-error(``@y``,`)",
		"compiler-error(https://evil.example/login, www.evil.example)",
		"compiler-error([full log](https://evil.example))",
	}
	for i, reason := range hostile {
		k := streams.BuildKey{Experiment: "x", Crate: "c" + string(rune('a'+i)), Version: "1.0.0", Toolchain: "stable"}
		e.apply(&streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: streams.StatusTestPass}, func(string) {})
		k.Toolchain = "nightly"
		e.apply(&streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: streams.StatusBuildFail, Reason: reason}, func(string) {})
	}
	md := string(e.markdownMD(time.Now()))
	for _, reason := range hostile {
		if !strings.Contains(md, string(reason)) {
			t.Errorf("markdown.md does not show the reason %q as it is:\n%s", reason, md)
		}
	}
	text := outsideCode(md)
	for what, re := range map[string]*regexp.Regexp{
		"a mention":   regexp.MustCompile(`(^|[^A-Za-z0-9_])@[A-Za-z0-9]`),
		"a reference": regexp.MustCompile(`(^|[^A-Za-z0-9_])(#[0-9]|GH-[0-9])|[A-Za-z0-9]#[0-9]`),
		"a link":      regexp.MustCompile(`https?:|www\.|\]\(`),
		"HTML":        regexp.MustCompile(`<[A-Za-z/]`),
	} {
		if m := re.FindString(text); m != "" {
			t.Errorf("markdown.md holds %s outside code (%q):\n%s", what, m, md)
		}
	}
	if want := "- `ca` `1.0.0`: build-fail (`depends-on(@rust-lang/security)`)"; !strings.Contains(md, want) {
		t.Errorf("markdown.md lacks %q:\n%s", want, md)
	}
}

func TestMDCode(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"serde":   "`serde`",
		"a`b":     "``a`b``",
		"`a":      "`` `a ``",
		"a``":     "``` a`` ```",
		" a ":     "`  a  `",
		"x\ny\rz": "`x y z`",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
		if got := outsideCode(mdCode(in)); strings.Contains(got, "`") {
			t.Errorf("mdCode(%q) = %q is not one code span", in, mdCode(in))
		}
	}
}
