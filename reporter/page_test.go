package reporter

import (
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// TestOnlyChangedPagesAreRewritten: full.html is split by the first two
// letters of crate names, so a result rewrites its own page and no other.
func TestOnlyChangedPagesAreRewritten(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("pg", 3)
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1})
	e.publish(result("pg", "aa-one", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("pg", "bb-two", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.waitResults("pg", 2)
	key := func(pfx string) string { return streams.ExperimentPrefix("pg") + pageFileName(pfx) }
	waitFor(t, "both pages", func() bool { return e.store.Puts(key("aa")) == 1 && e.store.Puts(key("bb")) == 1 })

	e.publish(result("pg", "Aa-three", "2.0.0", "nightly", 1, streams.StatusBuildFail, "unknown"))
	waitFor(t, "page aa rewritten", func() bool { return e.store.Puts(key("aa")) == 2 })
	time.Sleep(2 * pagesEvery * testDebounce)
	if n := e.store.Puts(key("bb")); n != 1 {
		t.Errorf("page bb written %d times, want once: it did not change", n)
	}
	page := string(e.store.read(t, key("aa")))
	if a, b := strings.Index(page, "<td>aa-one</td>"), strings.Index(page, "<td>Aa-three</td>"); a < 0 || b < 0 || b < a {
		t.Errorf("page aa: aa-one (at %d) should sort before Aa-three (at %d), case-insensitively", a, b)
	}
	full := string(e.store.read(t, streams.ExperimentPrefix("pg")+"full.html"))
	if !strings.Contains(full, `<a href="full-aa.html">aa</a></td><td>2</td><td>aa-one</td><td>Aa-three</td>`) {
		t.Errorf("full.html does not list page aa with its 2 crates:\n%s", full)
	}
}

func TestRowLinksOnlyStoredLogs(t *testing.T) {
	for _, tt := range []struct{ logKey, wantHref string }{
		{"logs/nightly/a/1%2E0%2E0/1.log", `href="logs/nightly/a/1%252E0%252E0/1.log"`},
		{"javascript:alert(1)", ""},
		{"logs/../../etc/passwd", ""},
		{"https://evil.example/x.log", ""},
	} {
		r := res("a", "nightly", 1, streams.StatusBuildFail)
		r.LogKey, r.Reason = tt.logKey, `"><img src=x onerror=alert(1)>`
		cs := &crateState{key: crateKey{"a", "1.0.0"}, runs: pair{nil, keepOf(r)}, page: &page{}}
		cs.v = judge(cs, 0)
		row := string(cs.htmlRow())
		if strings.Contains(row, "<img") || !strings.Contains(row, "&#34;&gt;&lt;img") {
			t.Errorf("log key %q: reason not escaped: %s", tt.logKey, row)
		}
		hasLink := strings.Contains(row, "href=")
		if (tt.wantHref == "") == hasLink || (hasLink && !strings.Contains(row, tt.wantHref)) {
			t.Errorf("log key %q: row %s, want link %q", tt.logKey, row, tt.wantHref)
		}
	}
}
