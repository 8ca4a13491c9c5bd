package web_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
	"github.com/rs/zerolog"
)

// TestExperimentPageListsARealRegression runs a real experiment (a real
// builder in containerd, cargo, an uploader and a reporter) over a crate
// that builds on stable and not on nightly, and checks that the experiment
// page, reloaded while it runs, comes to list the regression with links to
// both logs, which open, and links to the stored report.
func TestExperimentPageListsARealRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real builds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	nc, js := testenv.StartNATS(t).Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	registry := testenv.CrateRegistry(t)
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// No confirmation re-runs: the page must list a regression as soon as
	// the report has one.
	testfarm.Start(t, ctx, testfarm.Config{
		Name: "web", Namespace: "ejecta-web", BuilderConn: nc, UploaderConn: nc, ReporterConn: nc,
		Store: st, Reporter: reporter.Config{Debounce: 200 * time.Millisecond, Confirmations: -1}, Log: log,
	})
	srv, err := web.New(web.Config{Addr: ":0", Poll: 200 * time.Millisecond}, js, st, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	if _, err := producer.New(js, log).Create(ctx, producer.Request{
		Name: "webreg", Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: "ejecta-demo-regress", CrateSource: registry,
	}); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, hs.URL+"/experiments/webreg")
	if resp.StatusCode != 200 || !strings.Contains(body, `<meta http-equiv="refresh" content="3">`) || !strings.Contains(body, "of 2 jobs done") {
		t.Fatalf("experiment page while it runs: %d\n%s", resp.StatusCode, body)
	}

	// Reload as a browser would, until the regression shows: in the
	// report's table, and in the class counts, which come from the
	// progress entry the reporter writes after the report's files.
	deadline := time.Now().Add(4 * time.Minute)
	for !strings.Contains(body, `id="regressions"`) || !strings.Contains(body, `<li class="class-regressed">`) {
		if time.Now().After(deadline) || strings.Contains(body, "<b>Finished.</b>") {
			_, stable := get(t, hs.URL+"/logs/webreg/ejecta-demo-regress/0.1.0/stable/1/raw")
			t.Fatalf("no regression listed:\n%s\nstable log:\n%s", body, stable)
		}
		time.Sleep(300 * time.Millisecond)
		_, body = get(t, hs.URL+"/experiments/webreg")
	}
	for _, want := range []string{
		"<td>ejecta-demo-regress</td><td>0.1.0</td>", `<b>regressed</b>`,
		`<li class="class-regressed">regressed <b>1</b></li>`,
		`<a href="/experiments/webreg/report/index.html">index.html</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("experiment page lacks %q:\n%s", want, body)
		}
	}
	table := body[strings.Index(body, `id="regressions"`):]
	table = table[:strings.Index(table, "</table>")]
	// The nightly build's first error, read from rustc's JSON, with a link
	// to the line of the log page that shows it.
	firstErr := regexp.MustCompile(`<div class="first-error">ejecta-demo-regress: this crate does not build with a nightly compiler at <code>ejecta-demo-regress-0.1.0/src/lib.rs:4</code> \(<a href="/logs/webreg/ejecta-demo-regress/0.1.0/nightly/1#L([0-9]+)">log line [0-9]+</a>\)</div>`).FindStringSubmatch(table)
	if firstErr == nil {
		t.Errorf("the regression's first error is not shown:\n%s", table)
	}
	links := regexp.MustCompile(`<a href="(/logs/webreg/ejecta-demo-regress/0.1.0/(stable|nightly)/1)">`).FindAllStringSubmatch(table, -1)
	if len(links) != 2 {
		t.Fatalf("want links to both logs of the regression, found %q:\n%s", links, body)
	}
	for _, l := range links {
		wantText := map[string]string{"stable": "Finished\x1b[0m `dev` profile", "nightly": "error"}[l[2]]
		deadline := time.Now().Add(time.Minute)
		for {
			resp, raw := get(t, hs.URL+l[1]+"/raw")
			if resp.StatusCode == 200 && strings.Contains(raw, wantText) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("log %s: %d, lacks %q:\n%s", l[1], resp.StatusCode, wantText, raw)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if resp, _ := get(t, hs.URL+l[1]); resp.StatusCode != 200 {
			t.Errorf("log page %s: %d", l[1], resp.StatusCode)
		}
	}
	// The anchor is the line the log page numbers so that shows the error.
	if firstErr != nil {
		_, raw := get(t, hs.URL+"/logs/webreg/ejecta-demo-regress/0.1.0/nightly/1/raw")
		n, _ := strconv.Atoi(firstErr[1])
		lines := strings.Split(raw, "\n")
		if n < 1 || n > len(lines) || !strings.Contains(lines[n-1], "error") || !strings.Contains(lines[n-1], "this crate does not build with a nightly compiler") {
			t.Errorf("log line %d is not the error:\n%s", n, raw)
		}
	}
	for _, f := range []string{"index.html", "results.json"} {
		resp, body := get(t, hs.URL+"/experiments/webreg/report/"+f)
		if resp.StatusCode != 200 || !strings.Contains(body, "ejecta-demo-regress") {
			t.Errorf("report file %s: %d\n%s", f, resp.StatusCode, body)
		}
		// The report shows the regression's first error and its group.
		if want := map[string]string{
			"index.html":   `<tr class="signature"><td>1</td><td></td><td>ejecta-demo-regress: this crate does not build with a nightly compiler</td><td>ejecta-demo-regress 0.1.0</td></tr>`,
			"results.json": `"first_error":{"message":"ejecta-demo-regress: this crate does not build with a nightly compiler","file":"ejecta-demo-regress-0.1.0/src/lib.rs","line":4,"log_line":`,
		}[f]; !strings.Contains(body, want) {
			t.Errorf("report file %s lacks %s:\n%s", f, want, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script-src") {
			t.Errorf("report file %s: Content-Security-Policy %q", f, csp)
		}
	}
}
