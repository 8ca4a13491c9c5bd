package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// watchedExperiment creates experiment name (cfg-if and itoa, 4 jobs) and
// plays its progress as builders and the reporter would make it: the
// progress entry grows and the queue empties, step by step, every step.
func watchedExperiment(t *testing.T, name string, step time.Duration) (url string) {
	t.Helper()
	ns := testenv.StartNATS(t)
	_, js := ns.Connect(t)
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := producer.New(js, zerolog.Nop()).Create(ctx, producer.Request{Name: name, Toolchains: []string{"stable", "nightly"},
		Mode: "check-only", Crates: "cfg-if,itoa", CrateSource: testenv.CrateRegistry(t), NoToolchainCheck: true}); err != nil {
		t.Fatal(err)
	}
	progress, err := js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		stable, nightly int
		classes         map[string]int
		confirming      int
	}{
		{1, 0, nil, 0},
		{2, 1, map[string]int{"same-test-pass": 1}, 0},
		{2, 2, map[string]int{"same-test-pass": 1, "regressed": 1}, 1},
		{2, 2, map[string]int{"same-test-pass": 1, "regressed": 1}, 0},
	}
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		for _, s := range steps {
			time.Sleep(step)
			data, _ := json.Marshal(streams.Progress{V: streams.SchemaVersion, Experiment: name, Done: s.stable + s.nightly, Total: 4,
				Classes: s.classes, Confirming: s.confirming, ToolchainsDone: map[string]int{"stable": s.stable, "nightly": s.nightly}, Updated: time.Now()})
			progress.Put(ctx, name, data)
			// A build's job leaves the queue when it is done.
			for tc, n := range map[string]int{"stable": s.stable, "nightly": s.nightly} {
				if n == 2 {
					jobs.Purge(ctx, jetstream.WithPurgeSubject(streams.JobsFilter(name, tc)))
				}
			}
		}
	}()
	return ns.URL
}

// Piped, --watch prints a line whenever something changes, the last one
// when the experiment is finished; with -o json, a JSON document per line.
func TestStatusWatchPiped(t *testing.T) {
	url := watchedExperiment(t, "piped", 400*time.Millisecond)
	out, err := run(t, "--nats", url, "--log-level", "error", "experiment", "status", "piped", "--watch", "--interval", "50ms")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 4 || lines[0] != "experiment piped: stable vs nightly, check-only, 2 crates" {
		t.Fatalf("output:\n%s", out)
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		body := regexp.MustCompile(`^\d\d:\d\d:\d\d `).ReplaceAllString(l, "")
		if body == l || seen[body] {
			t.Errorf("line %q: want a time and a change", l)
		}
		seen[body] = true
	}
	last := lines[len(lines)-1]
	for _, w := range []string{"stable 2/2 done, 0 running, 0 queued", "nightly 2/2 done", "regressed=1 same-test-pass=1"} {
		if !strings.Contains(last, w) {
			t.Errorf("last line %q: want %q", last, w)
		}
	}
	if !seen[regexp.MustCompile(`^\d\d:\d\d:\d\d `).ReplaceAllString(lines[len(lines)-2], "")] || !strings.Contains(out, "confirming 1 regression") {
		t.Errorf("no line says a regression is being confirmed:\n%s", out)
	}

	url = watchedExperiment(t, "json", 300*time.Millisecond)
	out, err = run(t, "--nats", url, "--log-level", "error", "experiment", "status", "json", "--watch", "--interval", "50ms", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var sts []status.Status
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var st status.Status
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		sts = append(sts, st)
	}
	if len(sts) < 3 || !sts[len(sts)-1].Finished() || len(sts[len(sts)-1].Toolchains) != 2 {
		t.Errorf("JSON lines: %d documents, last %+v; want a finished one last", len(sts), sts[len(sts)-1])
	}
}

// On a terminal, --watch draws one display and redraws it in place: the
// header once, a bar per toolchain, the classes below; no block reprinted
// under a timestamp.
func TestStatusWatchOnATerminal(t *testing.T) {
	url := watchedExperiment(t, "tty", 500*time.Millisecond)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	var screen lockedBuffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&screen, ptmx)
		close(copied)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRootCmd()
	root.SetOut(tty)
	root.SetErr(tty)
	root.SetArgs([]string{"--nats", url, "--log-level", "error", "experiment", "status", "tty", "--watch", "--interval", "50ms"})
	err = root.ExecuteContext(ctx)
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	if err != nil {
		t.Fatal(err)
	}
	out := screen.String()
	if n := strings.Count(out, "experiment tty: stable vs nightly, check-only, 2 crates"); n != 1 {
		t.Errorf("header printed %d times, want once:\n%q", n, out)
	}
	if !strings.Contains(out, "A\x1b[J") {
		t.Errorf("no redraw in place (cursor up, erase down):\n%q", out)
	}
	if regexp.MustCompile(`(?m)^--- \d\d:`).MatchString(out) {
		t.Errorf("a block reprinted under a timestamp:\n%q", out)
	}
	// The last frame: both bars full, with their counts, and the classes.
	frames := strings.Split(out, "\x1b[J")
	final := frames[len(frames)-1]
	for _, w := range []string{"stable ", "nightly", "2/2 done  0 running  0 queued", "regressed=1 same-test-pass=1", "[", "]"} {
		if !strings.Contains(final, w) {
			t.Errorf("final frame %q: want %q", final, w)
		}
	}
	if strings.Count(final, "2/2 done") != 2 {
		t.Errorf("final frame %q: want both toolchains done", final)
	}
	if !strings.Contains(out, "1/2 done") {
		t.Errorf("no frame showed the builds half done:\n%q", out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
