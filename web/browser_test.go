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
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/logtail/logtailtest"
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
	l := logtailtest.NewLog(t, e.js, build, 1)
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
