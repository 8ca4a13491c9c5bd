package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// browser starts headless Chromium (Debian's package) for one test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "no chromium (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		// This machine has no network beyond loopback: without these,
		// Chromium keeps trying to reach its own services.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		testenv.Unavailable(t, "chromium does not start: %v", err)
	}
	return ctx
}

// TestBrowserSeesLiveLinesAppear opens the log page of a build that is
// still running in a real browser, and checks that lines published after
// the page loaded appear on it, coloured and escaped, then the end.
func TestBrowserSeesLiveLinesAppear(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := browser(t)
	e := start(t, web.Config{})
	l := buildlogtest.NewLog(t, e.js, build, 1)
	l.Write("\x1b[1m\x1b[92m    Checking\x1b[0m cfg-if v1.0.0\n")

	lineCount := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log .line").length`))
		if err != nil {
			t.Fatalf("count lines: %v", err)
		}
		return n
	}
	waitLines := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for lineCount() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the page shows %d lines, want %d", lineCount(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+logPath)); err != nil {
		t.Fatal(err)
	}
	waitLines(1)

	for i := 1; i <= 5; i++ {
		l.Write(fmt.Sprintf("line %d <script>alert(%d)</script>\n", i, i))
	}
	waitLines(6)
	l.End(streams.StatusTestPass)

	type page struct {
		Text, State, Green string
		Scripts            int
	}
	var p page
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		p, err = chromedp.Run(ctx, chromedp.Evaluate[page](`({
			Text: document.querySelector("#log").innerText,
			State: document.querySelector("#state").textContent,
			Scripts: document.querySelectorAll("#log script").length,
			Green: (document.querySelector("#log .line .text span[class]") || {}).className || "",
		})`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.State, "finished") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.State, "finished: test-pass") {
		t.Errorf("state %q, want the end of the build", p.State)
	}
	if !strings.Contains(p.Text, "line 5 <script>alert(5)</script>") || p.Scripts != 0 {
		t.Errorf("log text %q (%d script elements): want the markup shown as text", p.Text, p.Scripts)
	}
	if p.Green == "" {
		t.Errorf("the ANSI colours were not rendered as classes")
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "log-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// TestBrowserLoadsMoreAndShowsTimes opens the page of a stored log too big
// to show whole, clicks "load more" and sees the next lines appear between
// the head and the tail; then opens a live log and sees each line's time,
// which the timestamps toggle hides.
func TestBrowserLoadsMoreAndShowsTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ctx := browser(t)
	e := start(t, web.Config{})
	const lines = 40000 // 4 MB: a head, a tail and most of it between them
	if err := e.st.Put(context.Background(), logtail.StoredKey(build, 1), &bigLog{lines: lines}, lines*lineBytes, "text/plain"); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	waitFor := func(what, js string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for eval(js) != "yes" {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s: %s", what, eval(`document.querySelectorAll("#log .line").length + " lines, state " + document.querySelector("#state").textContent + ", last " + (document.querySelector("#log").lastElementChild || {}).id`))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.ArtifactDir(), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+logPath)); err != nil {
		t.Fatal(err)
	}
	waitFor("the head, the gap and the tail", `document.querySelector("#more") && document.getElementById("L40000") ? "yes" : "no"`)
	headLast := (256 << 10) / lineBytes // the head is 256 KiB of whole lines
	next := fmt.Sprintf("L%d", headLast+1)
	if got := eval(fmt.Sprintf(`document.getElementById(%q) ? "shown" : "not shown"`, next)); got != "not shown" {
		t.Fatalf("line %d %s before load more", headLast+1, got)
	}
	before := eval(`String(document.querySelectorAll("#log .line").length)`)
	if err := chromedp.Do(ctx, chromedp.Click("#more")); err != nil {
		t.Fatal(err)
	}
	waitFor("the lines after the head", fmt.Sprintf(`document.getElementById(%q) ? "yes" : "no"`, next))
	text := eval(fmt.Sprintf(`document.querySelector("#%s .text").innerText`, next))
	if want := fmt.Sprintf("line %08d <script>alert(1)</script> ok", headLast+1); !strings.HasPrefix(text, want) {
		t.Errorf("line %d after load more: %q, want %q", headLast+1, text, want)
	}
	// The new lines sit before the gap, which is still there: more is left.
	if got := eval(fmt.Sprintf(`document.getElementById(%q).nextElementSibling.id.startsWith("L") && document.querySelector("#gap") ? "ok" : "misplaced"`, next)); got != "ok" {
		t.Errorf("new lines %s", got)
	}
	after := eval(`String(document.querySelectorAll("#log .line").length)`)
	t.Logf("lines on the page: %s before load more, %s after", before, after)
	if eval(`String(document.querySelectorAll("#log script").length)`) != "0" {
		t.Error("markup in the log became elements")
	}
	if err := chromedp.Do(ctx, chromedp.ScrollIntoView("#"+next)); err != nil {
		t.Fatal(err)
	}
	shot("big-log-load-more.png")

	// A live log: each line shows the time of the chunk its first byte came in.
	t0 := time.Date(2026, 5, 1, 12, 34, 56, 789000000, time.UTC)
	live := buildlogtest.NewLog(t, e.js, build, 2)
	live.WriteAt("\x1b[1m\x1b[92m    Checking\x1b[0m cfg-if v1.0.0\nwarning: unused", t0)
	live.WriteAt(" import\n", t0.Add(time.Second))
	if err := chromedp.Do(ctx, chromedp.Navigate(e.url+strings.TrimSuffix(logPath, "1")+"2")); err != nil {
		t.Fatal(err)
	}
	waitFor("the live lines", `document.getElementById("L2") ? "yes" : "no"`)
	live.WriteAt("    Finished `dev` profile\n", t0.Add(2*time.Second))
	waitFor("a new live line", `document.getElementById("L3") ? "yes" : "no"`)
	times := eval(`Array.from(document.querySelectorAll("#log .ts")).map(e => e.textContent + (e.offsetParent ? "" : " hidden")).join("|")`)
	if want := "12:34:56.789|12:34:56.789|12:34:58.789"; times != want {
		t.Errorf("line times %q, want %q", times, want)
	}
	shot("live-log-times.png")
	if err := chromedp.Do(ctx, chromedp.Click("#show-ts")); err != nil {
		t.Fatal(err)
	}
	if got := eval(`document.querySelector("#log .ts").offsetParent ? "shown" : "hidden"`); got != "hidden" {
		t.Errorf("times %s after the toggle", got)
	}
	// End the build, which ends the page's event stream, before the server
	// stops (the browser outlives it).
	live.End(streams.StatusTestPass)
	waitFor("the end", `document.querySelector("#state").textContent.startsWith("finished") ? "yes" : "no"`)
}
