package reporter

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// TestReportFiles checks every file of a report: root causes in
// index.html, markdown.md and its escaping, the retry list, config.json,
// progress with rate and ETA, and that results.json and the progress entry
// (what `experiment status` shows) agree.
func TestReportFiles(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("files", 6)
	at := func(r streams.Result, sec int) streams.Result {
		r.FinishedAt = time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC)
		return r
	}
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1})
	sec := 0
	pairOf := func(name string, a, b Outcome) {
		e.publish(at(result("files", name, "1.0.0", "stable", 1, a.Status, a.Reason), sec))
		e.publish(at(result("files", name, "1.0.0", "nightly", 1, b.Status, b.Reason), sec+30))
		sec += 60
	}
	pairOf("serde", oPass, bf("compiler-error(E0277)"))
	pairOf("uses-serde", oPass, bf("depends-on(serde)"))
	pairOf("hostile", oPass, bf("compiler-error(<script>alert'1'</script>|*_`[x]:javascript:alert'1')"))
	pairOf("flappy", oPass, bf("oom"))
	pairOf("mended", oBuild, oPass)
	e.publish(at(result("files", "late", "1.0.0", "stable", 1, streams.StatusTestPass, ""), sec))
	f := e.waitResults("files", 11)

	// 11 builds finished from 0 s to 300 s: 10 intervals in 5 minutes,
	// 2 per minute; one build left, 30 s.
	if f.RatePerMinute != 2 || f.ETASeconds != 30 {
		t.Errorf("rate %v per minute, ETA %d s; want 2 and 30", f.RatePerMinute, f.ETASeconds)
	}
	wantClasses := map[results.Class]int{results.ClassRegressed: 3, results.ClassSpuriousRegressed: 1, results.ClassFixed: 1}
	if !maps.Equal(f.Classes, wantClasses) {
		t.Errorf("results.json classes %v, want %v", f.Classes, wantClasses)
	}
	if c := crateByName(t, f, "uses-serde"); c.Root != "serde" {
		t.Errorf("uses-serde: root %q, want serde", c.Root)
	}
	p := e.progress("files")
	if p.Done != f.DoneJobs || p.Total != f.TotalJobs || p.RatePerMinute != f.RatePerMinute || p.ETASeconds != f.ETASeconds {
		t.Errorf("progress entry %+v disagrees with results.json (done %d of %d)", p, f.DoneJobs, f.TotalJobs)
	}
	for c, n := range f.Classes {
		if p.Classes[string(c)] != n {
			t.Errorf("class %s: progress entry %d, results.json %d", c, p.Classes[string(c)], n)
		}
	}

	file := func(name string) string { return string(e.store.read(t, streams.ExperimentPrefix("files")+name)) }
	// results.json is stored first and the other files follow it, the
	// per-prefix pages no more often than the page cadence: wait for each
	// to show the last result.
	settled := func(name string) string {
		text := file(name)
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(text, "11 / 12 builds") && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			text = file(name)
		}
		return text
	}
	index := settled("index.html")
	for _, want := range []string{
		"root cause serde: 1 dependent regressed because it did",
		"11 / 12 builds (91.7%), 2.0 builds/min, 30s left",
		`<td>pending</td><td>1</td>`,
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if s, u := strings.Index(index, "<td>serde</td>"), strings.Index(index, "<td>uses-serde</td>"); s < 0 || u < s {
		t.Errorf("index.html: the root serde (at %d) must come before its dependent (at %d)", s, u)
	}

	md := settled("markdown.md")
	for _, want := range []string{"| regressed | 3 |", "- `uses-serde` `1.0.0`: build-fail (`depends-on(serde)`), root cause `serde`",
		"(``compiler-error(<script>alert'1'</script>|*_`[x]:javascript:alert'1')``)", "11 / 12 builds"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown.md lacks %q:\n%s", want, md)
		}
	}
	if text := outsideCode(md); strings.Contains(text, "<script>") || strings.Contains(text, "[x]") {
		t.Errorf("markdown.md holds markup outside code:\n%s", md)
	}

	retry := file("retry-regressed-list.txt")
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(retry), "\n") {
		if !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if got := strings.Join(lines, ","); got != "hostile@1.0.0,serde@1.0.0,uses-serde@1.0.0,flappy@1.0.0" {
		t.Errorf("retry-regressed-list.txt: %q", got)
	}

	var cfg ConfigFile
	if err := json.Unmarshal([]byte(file("config.json")), &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if cfg.Experiment.Name != "files" || strings.Join(cfg.Experiment.Toolchains, ",") != "stable,nightly" || cfg.Confirmations != 0 {
		t.Errorf("config.json: %+v", cfg)
	}
	// A page of full.html shows the progress as of its crates' last
	// change: when the reporter read the results in more than one write,
	// full-ho.html's last was before the 11th.
	for name, progress := range map[string]string{"index.html": "11 / 12 builds", "full.html": "11 / 12 builds", "full-ho.html": " / 12 builds"} {
		page := settled(name)
		if strings.Contains(page, "<script>") || !strings.Contains(page, progress) {
			t.Errorf("%s: unescaped script, or no progress %q", name, progress)
		}
	}
}
