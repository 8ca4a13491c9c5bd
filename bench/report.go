package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Report measures the reporter, running as a child process with its
// default debounce, fed an experiment's results at full speed: the lag
// from the last result stored to results.json counting it, and the
// reporter's CPU time per result, at a small and a large experiment. The
// CPU per result should not grow with the experiment. Confirmation
// re-runs are off: the figure is the report's.
func Report(t testing.TB, full bool) []Row {
	small, large := 50, 500
	if full {
		small, large = 1_000, 100_000
	}
	a := reportFigures(t, small, false)
	b := reportFigures(t, large, false)
	replay := reportFigures(t, large, true)
	lagRow := func(f reportFigure) Row {
		return Row{
			Figure:  fmt.Sprintf("report lag after the last result, %s crates (%s results)", size(f.crates), size(2*f.crates)),
			Ejecta:  f.lag.Round(time.Millisecond).String(),
			Goal:    "≤ 2 s",
			Verdict: judge(full, f.lag <= 2*time.Second),
			Note:    f.note(),
		}
	}
	r := float64(b.cpuPerResult) / float64(a.cpuPerResult)
	return []Row{lagRow(a), lagRow(b), {
		Figure:   fmt.Sprintf("reporter CPU per result, %s crates vs %s", size(large), size(small)),
		Ejecta:   b.cpuPerResult.Round(100 * time.Nanosecond).String(),
		Baseline: a.cpuPerResult.Round(100*time.Nanosecond).String() + " at " + size(small) + " crates",
		Ratio:    fmt.Sprintf("%.2f×", r),
		Goal:     "≤ 1.5×",
		Verdict:  judge(full, r <= 1.5),
	}, replayRow(full, replay)}
}

// replayGoal is the rate at which a restarted reporter must catch up: a
// crater-sized run's 1.4M results in a minute.
const replayGoal = 1_400_000 / 60

// replayRow is the rate of a reporter started on a results stream that
// already holds an experiment's results, as after a restart, against a
// plain ordered consumer reading the same stream in the same run.
func replayRow(full bool, f reportFigure) Row {
	results := float64(2 * f.crates)
	rate := results / f.lag.Seconds()
	raw := results / f.rawRead.Seconds()
	return Row{
		Figure:   fmt.Sprintf("restarted reporter catching up on %s results already on the stream", size(2*f.crates)),
		Ejecta:   fmt.Sprintf("%.0f results/s", rate),
		Baseline: fmt.Sprintf("%.0f msgs/s raw ordered consumer read", raw),
		Ratio:    fmt.Sprintf("%.3f×", rate/raw),
		Goal:     fmt.Sprintf("≥ %dk results/s (1.4M in a minute)", replayGoal/1000),
		Verdict:  judge(full, rate >= replayGoal),
		Note: fmt.Sprintf("from its start to results.json counting every result; the reporter used %s of CPU a result",
			f.cpuPerResult.Round(100*time.Nanosecond)),
	}
}

// rawRead is how long a plain ordered consumer takes to read n messages
// of the results stream: what reading them costs NATS and the client alone.
func rawRead(ctx context.Context, t testing.TB, js jetstream.JetStream, n int) time.Duration {
	t.Helper()
	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer msgs.Stop()
	for range n {
		if _, err := msgs.Next(); err != nil {
			t.Fatalf("raw read of the results stream: %v", err)
		}
	}
	return time.Since(start)
}

type reportFigure struct {
	crates int
	// lag is, for a replay, how long the reporter took from its start;
	// rawRead how long a plain ordered consumer took to read the results.
	publish, lag, rawRead time.Duration
	cpuPerResult          time.Duration
	// anon and hwm are the reporter's peak anonymous memory and VmHWM
	// (measure.Memory.Peak), idle its anonymous memory before the first
	// result; heap is its heap profile's path, if one was asked for
	// (EnvHeapProfile).
	anon, hwm, idle int64
	heap            string
	// stored is the results stream's bytes once every result is in.
	stored uint64
	// split is the reporter's own account of the write that stored every
	// result; ok is false if its log did not have it.
	split lagSplit
	ok    bool
	// writes is how many writes the reporter's log tells of, up to and
	// including that one, and written the bytes they stored.
	writes  int
	written int64
}

// lagSplit is where the report lag went, from the reporter's "report
// written" log line (reporter/flush.go): waiting from the newest result to
// the write (the debounce, or a previous write still running), rendering
// the files, storing results.json, which the reporter stores first and the
// lag is measured to.
type lagSplit struct {
	Done     int     `json:"done"`
	Waited   float64 `json:"waited"`
	Rendered float64 `json:"rendered_in"`
	Stored   float64 `json:"first_stored_in"`
	Bytes    int64   `json:"bytes"`
	// Whole is unset or true for a write with results.json in it.
	Whole   *bool  `json:"whole"`
	Message string `json:"message"`
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func (f reportFigure) note() string {
	n := fmt.Sprintf("results published in %s", f.publish.Round(time.Millisecond))
	if !f.ok {
		return n
	}
	s := f.split
	inReporter := ms(s.Waited + s.Rendered + s.Stored)
	// The rest is the reporter reading the results still in flight when
	// the last publish was acknowledged.
	reading := max(f.lag-inReporter, 0)
	return fmt.Sprintf("%s; the lag is reading the last results %s, waiting to write %s, rendering %s, storing results.json %s",
		n, reading.Round(time.Millisecond), ms(s.Waited).Round(time.Millisecond),
		ms(s.Rendered).Round(time.Millisecond), ms(s.Stored).Round(time.Millisecond))
}

// waitWholeWritten waits until the reporter's log at path tells of the
// write of results.json that counted done results, every file of it
// stored, for up to a minute; it goes on without it after that, and the
// figures from the log are left out.
func waitWholeWritten(t testing.TB, path string, done int) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, _, _, ok := finalWrite(path, done); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finalWrite finds, in the reporter's log at path, the first write of
// results.json that counted done results, how many writes there were up
// to it, and the bytes they stored.
func finalWrite(path string, done int) (split lagSplit, writes int, written int64, ok bool) {
	logged, err := loggedWrites(path)
	if err != nil {
		return lagSplit{}, 0, 0, false
	}
	for _, s := range logged {
		writes++
		written += s.Bytes
		if s.Done == done && (s.Whole == nil || *s.Whole) {
			return s, writes, written, true
		}
	}
	return lagSplit{}, writes, written, false
}

// loggedWrites returns the writes the reporter's log at path tells of
// ("report written"), in order.
func loggedWrites(path string) ([]lagSplit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []lagSplit
	for line := range bytes.Lines(data) {
		var s lagSplit
		if json.Unmarshal(line, &s) == nil && s.Message == "report written" {
			out = append(out, s)
		}
	}
	return out, nil
}

// recordExperiment records experiment exp of crates crates, both of whose
// jobs are published, as the producer would.
func recordExperiment(ctx context.Context, t testing.TB, js jetstream.JetStream, exp string, crates int) {
	t.Helper()
	rec := streams.Experiment{V: 1, Name: exp, Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
		Crates: crates, Jobs: 2 * crates, Published: 2 * crates, CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, streams.ExperimentsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, exp, data); err != nil {
		t.Fatalf("record the experiment: %v", err)
	}
}

// reportFigures measures the reporter following crates crates' results as
// they are published or, replay, started once they all are.
func reportFigures(t testing.TB, crates int, replay bool) reportFigure {
	t.Helper()
	f := newFarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	exp := "report" + strconv.Itoa(crates)
	recordExperiment(ctx, t, f.js, exp, crates)

	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "reporter.log")
	var c *child
	var cpu0 time.Duration
	var idle map[string]int64
	var mem *measure.Memory
	var err error
	startReporter := func() {
		c = startChild(t, childSpec{Kind: "reporter", NATS: f.nats.URL, Store: "file://" + dir, Confirmations: -1,
			LogFile: logFile})
		if !replay {
			time.Sleep(500 * time.Millisecond) // let it start and settle
		}
		if cpu0, err = measure.CPU(c.pid()); err != nil {
			t.Fatal(err)
		}
		if idle, err = measure.Status(c.pid()); err != nil {
			t.Fatal(err)
		}
		mem = measure.WatchMemory(c.pid())
	}
	if !replay {
		startReporter()
	}
	start := time.Now()
	for r := range syntheticResults(exp, crates) {
		if err := publishResult(ctx, f.js, r, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := measure.WaitPublished(ctx, f.js); err != nil {
		t.Fatal(err)
	}
	published := time.Now()
	var raw time.Duration
	if replay {
		raw = rawRead(ctx, t, f.js, 2*crates)
		published = time.Now()
		startReporter()
	}
	path := filepath.Join(dir, results.Key(exp))
	done := waitUntil(t, 5*time.Minute, "results.json with every result", func() bool { return measure.DoneJobs(path) == 2*crates })
	// The rest of that write (pages, progress) is work per result too.
	waitUntil(t, time.Minute, "the progress entry", func() bool {
		e, err := f.js.KeyValue(ctx, streams.ProgressBucket)
		if err != nil {
			return false
		}
		v, err := e.Get(ctx, exp)
		var p streams.Progress
		return err == nil && json.Unmarshal(v.Value(), &p) == nil && p.Done == 2*crates
	})
	cpu, err := measure.CPU(c.pid())
	if err != nil {
		t.Fatal(err)
	}
	var stored uint64
	if s, err := f.js.Stream(ctx, streams.ResultsStream); err == nil {
		if info, err := s.Info(ctx); err == nil {
			stored = info.State.Bytes
		}
	}
	anon, hwm, err := mem.Peak()
	if err != nil {
		t.Fatal(err)
	}
	heap := c.heapProfile(t, "reporter")
	// results.json is stored first: the write it is in may still store
	// the rest of its files.
	waitWholeWritten(t, logFile, 2*crates)
	c.stop()
	split, writes, written, ok := finalWrite(logFile, 2*crates)
	keepFile(t, logFile, fmt.Sprintf("reporter-%d.log", crates))
	return reportFigure{crates: crates, publish: published.Sub(start), lag: done.Sub(published), rawRead: raw,
		cpuPerResult: (cpu - cpu0) / time.Duration(2*crates), anon: anon, hwm: hwm, idle: idle["RssAnon"], heap: heap,
		stored: stored, split: split, ok: ok, writes: writes, written: written}
}

// syntheticResults is both results of every crate of an experiment, most
// crates unchanged, a few regressed, fixed or failing on both, as in a
// real run; names spread over many pages of the report. They are made one
// at a time, so that crater's size does not sit in the benchmark's memory.
func syntheticResults(exp string, crates int) iter.Seq[streams.Result] {
	return func(yield func(streams.Result) bool) {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range crates {
			name := fmt.Sprintf("%c%c-crate-%d", 'a'+i%26, 'a'+(i/26)%26, i)
			statuses := [2]streams.Status{streams.StatusTestPass, streams.StatusTestPass}
			switch i % 50 {
			case 1:
				statuses[1] = streams.StatusBuildFail // regressed
			case 2:
				statuses[0] = streams.StatusBuildFail // fixed
			case 3, 4:
				statuses = [2]streams.Status{streams.StatusBuildFail, streams.StatusBuildFail}
			case 5:
				statuses = [2]streams.Status{streams.StatusTestFail, streams.StatusTestFail}
			}
			for j, tc := range []string{"stable", "nightly"} {
				k := streams.BuildKey{Experiment: exp, Crate: name, Version: "1.0." + strconv.Itoa(i%7), Toolchain: tc}
				r := streams.Result{V: 1, BuildKey: k, Attempt: 1, Status: statuses[j],
					ExitCode: 101, DurationMS: 1234, Builder: "b1", LogKey: streams.LogObjectKey(k, 1),
					FinishedAt: at.Add(time.Duration(2*i+j) * time.Second)}
				if !yield(r) {
					return
				}
			}
		}
	}
}
