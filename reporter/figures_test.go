package reporter

import (
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	procstat "github.com/ejecta-build/ejecta/bench/measure"

	"github.com/ejecta-build/ejecta/results"
)

// figure is what TestReportFigures measures for one experiment size.
type figure struct {
	results      int
	lag          time.Duration // last result stored → results.json has it
	cpuPerResult time.Duration // the reporter process's CPU time per result
	replay       time.Duration // a restarted reporter's start → results.json whole again
	maxRSS       int64         // the reporter process's peak resident memory, bytes
}

// measure publishes a synthetic experiment of the given number of results
// at full speed to a reporter process with the default debounce, and
// measures how long after the last result was stored results.json showed
// it, and the reporter's CPU time per result.
func measure(t *testing.T, nResults int) figure {
	e := newEnv(t)
	crates := nResults / 2
	e.putExperiment("fig", crates)
	rs := synthetic("fig", crates, 1)
	dir := t.TempDir()
	c := e.startChild(dir, 0, -1)
	time.Sleep(200 * time.Millisecond) // let it settle after start-up
	cpu0 := c.cpu()

	start := time.Now()
	e.publishAll(rs, "")
	published := time.Now()
	path := filepath.Join(dir, results.Key("fig"))
	t.Logf("published %d results in %v; results.json then had %d", len(rs), published.Sub(start), procstat.DoneJobs(path))
	deadline := published.Add(time.Minute)
	for procstat.DoneJobs(path) != len(rs) {
		if time.Now().After(deadline) {
			t.Fatalf("results.json has %d of %d results a minute after the last was published", procstat.DoneJobs(path), len(rs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	lag := time.Since(published)
	// The rest of that write (pages, progress) is work per result too.
	waitFor(t, "the progress entry", func() bool {
		p, ok := e.tryProgress("fig")
		return ok && p.Done == len(rs)
	})
	cpu := c.cpu() - cpu0
	c.stop()
	var maxRSS int64
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss << 10 // KiB on Linux
	}

	// A restarted reporter replays the whole stream: how long until its
	// report is whole again.
	restart := time.Now()
	replayDir := t.TempDir()
	e.startChild(replayDir, 0, -1)
	replayPath := filepath.Join(replayDir, results.Key("fig"))
	for procstat.DoneJobs(replayPath) != len(rs) {
		if time.Since(restart) > time.Minute {
			t.Fatalf("a restarted reporter had %d of %d results after a minute", procstat.DoneJobs(replayPath), len(rs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return figure{results: len(rs), lag: lag, cpuPerResult: cpu / time.Duration(len(rs)), replay: time.Since(restart), maxRSS: maxRSS}
}

// TestReportFigures prints the report lag and the reporter's CPU time per
// result at 1k results and at 100k, and checks the goals: lag at most 2 s,
// CPU per result at 10k no more than 15 times that at 1k. The goals (lag
// at most 2 s, CPU per result at 100k crates at most 1.5 times that at
// 1k) are judged by `make bench` (package bench, row "report"): the suite
// runs on two cores shared with other tests, and fails only ten times
// above them.
func TestReportFigures(t *testing.T) {
	large, lagLimit, ratioLimit := 10_000, 20*time.Second, 15.0
	if testing.Short() {
		large = 5_000
	}
	var figs []figure
	for _, n := range []int{1_000, large} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { figs = append(figs, measure(t, n)) })
	}
	if len(figs) != 2 {
		t.FailNow()
	}
	small, big := figs[0], figs[1]
	ratio := float64(big.cpuPerResult) / float64(small.cpuPerResult)
	for _, f := range figs {
		line := fmt.Sprintf("report figures: %7d results: lag %v, reporter CPU %v per result, peak memory %d MiB, replay after a restart %v",
			f.results, f.lag.Round(time.Millisecond), f.cpuPerResult.Round(100*time.Nanosecond), f.maxRSS>>20, f.replay.Round(time.Millisecond))
		t.Log(line)
		fmt.Println(line)
	}
	fmt.Printf("report figures: CPU per result at %d is %.2f× that at %d\n", big.results, ratio, small.results)
	for _, f := range figs {
		if f.lag > lagLimit {
			t.Errorf("%d results: report lag %v, want at most %v", f.results, f.lag, lagLimit)
		}
	}
	if ratio > ratioLimit {
		t.Errorf("CPU per result: %v at %d, %v at %d: %.2f×, want at most %.1f×",
			big.cpuPerResult, big.results, small.cpuPerResult, small.results, ratio, ratioLimit)
	}
}
