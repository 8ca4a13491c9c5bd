package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/streams"
)

// EnvScaleCrates, set to a number, makes the scale benchmark's experiments
// that many crates (two jobs, two results each) instead of crater's 700k:
// a smaller size for a quick iteration, whose figures per crate
// extrapolate.
const EnvScaleCrates = "EJECTA_BENCH_SCALE_CRATES"

// craterCrates is about the crates of a full crater run on crates.io.
const craterCrates = 700_000

// maxReporterRSS is the goal for the reporter's memory at crater's size.
const maxReporterRSS = 512 << 20

// Scale measures ejecta at crater's size, run alone (make bench
// BENCH=scale): the producer publishing the jobs of 700k crates on two
// toolchains through the same path as the produce row, beside raw
// JetStream publishing of the same count; and the reporter following
// their 1.4M results, its peak memory and its report lag. With
// EnvHeapProfile set, the reporter writes a heap profile at the end.
func Scale(t testing.TB, full bool) []Row {
	crates := scaleCrates(full)
	rows := append(scaleProduce(t, full, crates), scaleReport(t, full, crates)...)
	return append(rows, scaleTrickle(t, full, crates))
}

// ScaleReport is Scale's reporter rows alone: writing and removing the
// crate source of the producer's row takes longer at crater's size than
// the reporter's rows themselves.
func ScaleReport(t testing.TB, full bool) []Row {
	crates := scaleCrates(full)
	return append(scaleReport(t, full, crates), scaleTrickle(t, full, crates))
}

// scaleCrates is the crates of the scale rows' experiments.
func scaleCrates(full bool) int {
	crates := 500
	if full {
		crates = craterCrates
	}
	if n, err := strconv.Atoi(os.Getenv(EnvScaleCrates)); err == nil && n > 0 {
		crates = n
	}
	return crates
}

// scaleProduce is the produce row at crates crates, and the size of the
// jobs stream it leaves.
func scaleProduce(t testing.TB, full bool, crates int) []Row {
	jobs := 2 * crates
	f := newFarm(t)
	made := time.Now()
	src := crateSource(t, crates)
	madeIn := time.Since(made)
	start := time.Now()
	if added := f.create("scale", src); added != jobs {
		t.Fatalf("the producer added %d jobs, want %d", added, jobs)
	}
	took := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := f.js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rate := float64(jobs) / took.Seconds()
	ceiling := asyncPublishRate(t, f.js, jobs, 420)
	goal := 5 * time.Minute
	return []Row{{
		Figure:   fmt.Sprintf("experiment create at crater's size, producer → jobs stream, %s jobs (%s crates × 2 toolchains; directory source, Msg-Ids, checkpoints)", size(jobs), size(crates)),
		Ejecta:   fmt.Sprintf("%s (%.0f jobs/s)", took.Round(time.Millisecond), rate),
		Baseline: fmt.Sprintf("%.0f msgs/s raw JetStream async publish with Msg-Ids, same count and size", ceiling),
		Ratio:    ratio(rate, ceiling),
		Goal:     fmt.Sprintf("1.4M jobs ≤ 5 min (%s at this rate)", (time.Duration(float64(time.Second) * 1_400_000 / rate)).Round(time.Second)),
		Verdict:  judge(full, float64(goal)/float64(time.Second)*rate >= 1_400_000),
		Note: fmt.Sprintf("includes reading the crate source and selecting the crates (writing the source took %s, not counted); the jobs stream then held %d messages, %s (%.0f bytes a job)",
			madeIn.Round(time.Millisecond), info.State.Msgs, mib(int64(info.State.Bytes)), float64(info.State.Bytes)/float64(max(info.State.Msgs, 1))),
	}}
}

// scaleTrickle is the reporter following the results of crates crates
// whose last ones come a few a second, as a real experiment's do.
func scaleTrickle(t testing.TB, full bool, crates int) Row {
	f := trickleFigures(t, crates)
	p99 := measure.Quantile(f.lags, 0.99)
	return Row{
		Figure: fmt.Sprintf("report lag at a trickle, %s crates: the last %d results %s apart, each until the progress entry counts it, p50 / p99",
			size(crates), trickleResults, trickleEvery),
		Ejecta:  fmt.Sprintf("p50 %s, p99 %s", round(measure.Median(f.lags)), round(p99)),
		Goal:    "≤ 5 s",
		Verdict: judge(full, p99 <= 5*time.Second),
		Note: fmt.Sprintf("%d report writes took them in, storing %s (%.0f KiB a trickled result)",
			f.writes, mib(f.written), float64(f.written)/trickleResults/(1<<10)),
	}
}

// scaleReport is the reporter following the results of crates crates: its
// peak memory and its report lag.
func scaleReport(t testing.TB, full bool, crates int) []Row {
	f := reportFigures(t, crates, false)
	// What the reporter holds before the first result does not grow with
	// the experiment.
	perCrate := float64(f.anon-f.idle) / float64(crates)
	at700k := f.idle + int64(perCrate*craterCrates)
	heap := ""
	if f.heap != "" {
		heap = "; heap profile " + f.heap
	}
	return []Row{{
		Figure:  fmt.Sprintf("reporter peak memory (anonymous) following %s crates (%s results)", size(crates), size(2*crates)),
		Ejecta:  mib(f.anon),
		Ratio:   fmt.Sprintf("%.0f %% of goal", 100*float64(f.anon)/maxReporterRSS),
		Goal:    "≤ 512 MiB at 700k crates",
		Verdict: judge(full, at700k <= maxReporterRSS),
		Note: fmt.Sprintf("%s idle, then %.0f bytes a crate: %s at 700k crates; VmHWM with file-backed pages %s%s",
			mib(f.idle), perCrate, mib(at700k), mib(f.hwm), heap),
	}, {
		Figure:  fmt.Sprintf("report lag after the last result, %s crates (%s results)", size(crates), size(2*crates)),
		Ejecta:  f.lag.Round(time.Millisecond).String(),
		Goal:    "≤ 5 s",
		Verdict: judge(full, f.lag <= 5*time.Second),
		Note: fmt.Sprintf("%s; the reporter used %s of CPU a result and wrote the report %d times, %s in all; the results stream held %s (%.0f bytes a result)",
			f.note(), f.cpuPerResult.Round(100*time.Nanosecond), f.writes, mib(f.written), mib(int64(f.stored)), float64(f.stored)/float64(2*crates)),
	}}
}
