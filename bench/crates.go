package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// cratesRow is one of the real-crates rows: a mode and the corpus's size
// for it.
type cratesRow struct {
	mode streams.Mode
	// min and max bound the corpus at full size: at least min crates (fewer
	// is not the measurement), at most max (the row must end within half an
	// hour on two cores); smoke size builds cratesSmoke.
	min, max int
}

const (
	cratesSmoke = 2
	cratesSlots = 2
)

// The real-crates rows: check-only over most of the corpus, and
// build-and-test, which builds and runs every crate's tests as well, over
// a smaller part of it.
var (
	checkRow = cratesRow{mode: streams.ModeCheckOnly, min: 60, max: 100}
	testRow  = cratesRow{mode: streams.ModeBuildAndTest, min: 20, max: 30}
)

// EnvCrates, when set, is a selection of crates for the crates rows to
// build instead of their corpus, as `experiment create --crates` takes it
// (name[@version],...): a few crates for a profile.
const EnvCrates = "EJECTA_BENCH_CRATES"

// EnvKeep, when set to a directory, is where a crates row leaves what it
// measured from: the components' log, the store (build logs and reports),
// results.json and the cargo loop's job logs, for a profile of where the
// time went; and where the report rows leave the reporter's log
// (keepFile).
const EnvKeep = "EJECTA_BENCH_KEEP"

// Crates measures a real check-only experiment against the plain cargo
// loop it must beat (cratesRow.run).
func Crates(t testing.TB, full bool) []Row { return checkRow.run(t, full) }

// CratesTest measures a real build-and-test experiment against the plain
// cargo loop that builds and tests each crate (cratesRow.run).
func CratesTest(t testing.TB, full bool) []Row { return testRow.run(t, full) }

// run measures a real experiment against the plain cargo loop it must
// beat: crates of Debian's librust-*-dev packages (the corpus
// scripts/setup.sh bench installs, every crate version of it as `--crates
// all` selects them, by name, at most r.max), in r's mode, stable against
// nightly. ejecta runs it through the whole pipeline on one machine:
// producer, a builder with two slots in a private containerd building
// with the rustup toolchains (each slot with its shared targets), uploader
// and reporter on a file store; its figure is the time from `experiment
// create` to the results showing every crate with its class, the
// confirmation re-runs included. The baseline, measured after it in the
// same run, is `xargs -P2` running cargo per job in a fresh wrapper
// package with its own CARGO_HOME and target dir, from the same directory
// source (cargoLoop). Both sides' verdicts are compared crate by crate.
func (r cratesRow) run(t testing.TB, full bool) []Row {
	row := Row{Goal: "≤ 0.70×"}
	toolchains := []string{"stable", "nightly"}
	skip := func(why string) []Row {
		if testenv.RequireAll() {
			t.Fatalf("EJECTA_REQUIRE_ALL=1 and a dependency is missing: %s", why)
		}
		row.Figure = fmt.Sprintf("real crates: %s experiment, stable vs nightly, 2 slots, ejecta ÷ xargs -P2 cargo loop", r.mode)
		row.Verdict, row.Note = Skipped, why
		return []Row{row}
	}
	if why := containerdMissing(); why != "" {
		return skip(why)
	}
	rustupHome, cargo, why := rustupToolchains(toolchains)
	if why != "" {
		return skip(why)
	}
	crates, why := r.corpus(full, os.Getenv(EnvCrates))
	if why != "" {
		return skip(why)
	}
	row.Figure = fmt.Sprintf("real crates: %d crates of Debian's registry, %s, stable vs nightly, %d slots, wall time; ejecta (containerd) ÷ xargs -P%d cargo loop",
		len(crates), r.mode, cratesSlots, cratesSlots)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	keep := os.Getenv(EnvKeep)

	// ejecta first: whatever the first side warms (the page cache of the
	// toolchains and sources) is the baseline's.
	run := runExperiment(ctx, t, full, r.mode, crates, toolchains, keep)
	loop := cargoLoop(ctx, t, r.mode, cargo, rustupHome, testenv.DebianRegistry, crates, toolchains, cratesSlots)
	jobs, loopWall := loop.jobs, loop.wall
	if keep != "" {
		keepLoopLogs(t, jobs, filepath.Join(keep, "loop"))
	}

	agree, disagree := compareVerdicts(run.file, jobs, toolchains)
	row.Ejecta = fmt.Sprintf("%s (first pass %s)", round(run.wall), round(run.firstPass))
	row.Baseline = round(loopWall) + " cargo loop"
	row.Ratio = ratio(run.wall.Seconds(), loopWall.Seconds())
	row.Verdict = judge(full, run.wall.Seconds() <= 0.70*loopWall.Seconds())
	var loopBusy time.Duration
	var loopTook []time.Duration
	for _, j := range jobs {
		loopBusy += j.took
		loopTook = append(loopTook, j.took)
	}
	perCrate := func(d time.Duration) string { return round(d / time.Duration(len(crates))) }
	var note strings.Builder
	fmt.Fprintf(&note, "%d crates, %d builds a side; ejecta: first pass %s (%s), %s; ",
		len(crates), len(jobs), round(run.firstPass), ratio(run.firstPass.Seconds(), loopWall.Seconds()), run.reruns())
	fmt.Fprintf(&note, "build time summed over builds (attempt, sandbox and preparation included) %s, median %s; cargo loop: summed %s, median %s; ",
		round(run.busy()), round(measure.Median(run.durations())), round(loopBusy), round(measure.Median(loopTook)))
	fmt.Fprintf(&note, "CPU time of the builds: ejecta %s (%s a crate, %s), cargo loop %s (%s a crate); ejecta's own processes (NATS, builder, uploader, reporter) %s; the sandbox's machinery (containerd, its shims, runc) %s (%s a build); ",
		round(run.buildCPU), perCrate(run.buildCPU), ratio(run.buildCPU.Seconds(), loop.cpu.Seconds()), round(loop.cpu), perCrate(loop.cpu), round(run.farmCPU),
		round(run.machineryCPU), round(run.machineryCPU/time.Duration(max(1, len(run.durations())))))
	fmt.Fprintf(&note, "ejecta's steps: %s; ", run.steps)
	fmt.Fprintf(&note, "host load average meanwhile: ejecta %.1f, cargo loop %.1f; ", run.load, loop.load)
	fmt.Fprintf(&note, "verdicts agree on %d of %d crates", agree, len(crates))
	if len(disagree) > 0 {
		fmt.Fprintf(&note, "; disagree: %s", strings.Join(disagree, ", "))
	}
	note.WriteString("; each side once, ejecta first")
	row.Note = note.String()
	return []Row{row, run.latency}
}

// rustupToolchains returns rustup's home and cargo proxy when every
// toolchain is installed, else why not.
func rustupToolchains(tcs []string) (home, cargo, why string) {
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		return "", "", "cargo (rustup's proxy) not on PATH"
	}
	home = os.Getenv("RUSTUP_HOME")
	if home == "" {
		home = filepath.Join(os.Getenv("HOME"), ".rustup")
	}
	for _, tc := range tcs {
		if m, _ := filepath.Glob(filepath.Join(home, "toolchains", tc+"-*")); len(m) == 0 {
			return "", "", fmt.Sprintf("rustup has no %s toolchain in %s", tc, home)
		}
	}
	return home, cargo, ""
}

// corpus returns the crates to build: every crate version of Debian's
// registry in the order the producer selects them (`--crates all`), the
// first r.max (cratesSmoke at smoke size), or why there are too few.
// A selection (EnvCrates) picks crates instead, as many as it names.
func (r cratesRow) corpus(full bool, selection string) ([]producer.Crate, string) {
	src, err := producer.ScanSource(testenv.DebianRegistry)
	if err != nil {
		return nil, fmt.Sprintf("no crate corpus: %v (scripts/setup.sh bench installs it)", err)
	}
	want, most := r.min, r.max
	if !full {
		want, most = cratesSmoke, cratesSmoke
	}
	if selection != "" {
		want, most = 1, r.max
	} else {
		selection = "all"
	}
	all, err := producer.Select(selection, src)
	if err != nil || len(all) < want {
		return nil, fmt.Sprintf("%d crates under %s, want at least %d (scripts/setup.sh bench installs them)", len(all), testenv.DebianRegistry, want)
	}
	return all[:min(len(all), most)], ""
}

// experimentRun is what runExperiment measured.
type experimentRun struct {
	wall      time.Duration // create to every crate classified, re-runs done
	firstPass time.Duration // create to every first build done
	file      *results.File // the final results.json
	// buildCPU is the CPU time of every build's processes (the containers'
	// cgroups), farmCPU that of this process (NATS and the components
	// running in it); load the host's mean one-minute load average.
	buildCPU, farmCPU time.Duration
	// machineryCPU is that of containerd, its shims and runc: the
	// sandbox's cost outside the containers.
	machineryCPU time.Duration
	load         float64
	// steps is where the builds' time went, step by step (stepTimes).
	steps string
	// latency is the row of the time from a build's end to its log stored
	// and its result in the report (latencyRow).
	latency Row
}

// runExperiment starts a farm (NATS, a builder with cratesSlots slots in a
// private containerd, uploader, reporter, a file store), waits for the
// builder's heartbeat, as `ejecta up` has it running before `experiment
// create`, then creates the experiment and waits for its results to show
// every crate classified with its confirmations done.
func runExperiment(ctx context.Context, t testing.TB, full bool, mode streams.Mode, crates []producer.Crate, toolchains []string, keep string) experimentRun {
	t.Helper()
	f := newFarm(t)
	storeDir, logPath := t.TempDir(), filepath.Join(t.TempDir(), "farm.log")
	if keep != "" {
		storeDir, logPath = filepath.Join(keep, "store"), filepath.Join(keep, "farm.log")
		if err := os.MkdirAll(storeDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.NewFile(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	log := zerolog.New(lf).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	ns := testenv.ContainerdNamespace(t)
	metrics := prometheus.NewRegistry()
	var machinery func() time.Duration
	testfarm.Start(t, ctx, testfarm.Config{Name: "bench-crates", Namespace: ns,
		BuilderConn: f.nc, UploaderConn: f.nc, ReporterConn: f.nc, Store: st, Log: log, Slots: cratesSlots, Metrics: metrics,
		Containerd: func(d *testenv.Containerd) { machinery = machineryCPU(t, d) }})
	waitUntil(t, time.Minute, "the builder's heartbeat", func() bool {
		hbs, err := status.Builders(ctx, f.js)
		return err == nil && len(hbs) > 0
	})

	const name = "crates"
	var list []string
	for _, c := range crates {
		list = append(list, c.String())
	}
	buildCPU0, _ := measure.CgroupCPU("/" + ns) // no cgroup yet: 0
	farmCPU0, machinery0 := selfCPU(), machinery()
	load := measure.WatchLoad(5 * time.Second)
	start := time.Now()
	out, err := producer.New(f.js, quiet(t)).Create(ctx, producer.Request{Name: name, Toolchains: toolchains,
		Mode: string(mode), Crates: strings.Join(list, ","), CrateSource: testenv.DebianRegistry})
	if err != nil {
		t.Fatalf("create the experiment: %v", err)
	}
	if want := len(crates) * len(toolchains); out.Added != want {
		t.Fatalf("the producer added %d jobs, want %d", out.Added, want)
	}
	var run experimentRun
	deadline := time.Now().Add(40 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("bench: the experiment not done after 40 minutes")
		}
		time.Sleep(500 * time.Millisecond)
		file, err := readResults(ctx, st, name)
		if err != nil {
			continue
		}
		if run.firstPass == 0 && file.TotalJobs > 0 && file.DoneJobs >= file.TotalJobs {
			run.firstPass = time.Since(start)
		}
		if !classified(file, len(crates)) {
			continue
		}
		if s, err := status.Get(ctx, f.js, name); err != nil || !s.Finished() {
			continue
		}
		run.wall, run.file = time.Since(start), file
		break
	}
	run.load, run.farmCPU, run.machineryCPU = load.Stop(), selfCPU()-farmCPU0, machinery()-machinery0
	if cpu, err := measure.CgroupCPU("/" + ns); err == nil {
		run.buildCPU = cpu - buildCPU0
	}
	if run.firstPass == 0 {
		run.firstPass = run.wall
	}
	run.steps = stepTimes(t, metrics)
	run.latency = latencyRow(ctx, st, run.file, metrics, full)
	if keep != "" {
		if b, err := json.MarshalIndent(run.file, "", "  "); err == nil {
			_ = os.WriteFile(filepath.Join(keep, "results.json"), b, 0o644)
		}
	}
	return run
}

// stepTimes says where the builder's attempts spent their time, from its
// metrics: for each step (cargo subcommand) how many ran and their mean
// sandbox and process times, and the time spent purging shared targets.
func stepTimes(t testing.TB, reg *prometheus.Registry) string {
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather the builder's metrics: %v", err)
	}
	type timing struct {
		n                int
		sandbox, process float64
	}
	steps := map[string]*timing{}
	purge := 0.0
	for _, f := range fams {
		switch f.GetName() {
		case "ejecta_builder_shared_target_purge_seconds_total":
			for _, m := range f.GetMetric() {
				purge += m.GetCounter().GetValue()
			}
		case "ejecta_builder_step_seconds":
			for _, m := range f.GetMetric() {
				var step, phase string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "step":
						step = l.GetValue()
					case "phase":
						phase = l.GetValue()
					}
				}
				if steps[step] == nil {
					steps[step] = &timing{}
				}
				h, s := m.GetHistogram(), steps[step]
				s.n = int(h.GetSampleCount())
				if phase == "sandbox" {
					s.sandbox = h.GetSampleSum()
				} else {
					s.process = h.GetSampleSum()
				}
			}
		}
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(steps)) {
		s := steps[name]
		if s.n == 0 {
			continue
		}
		mean := func(sum float64) string { return round(time.Duration(sum / float64(s.n) * float64(time.Second))) }
		parts = append(parts, fmt.Sprintf("%s %d× (sandbox %s, process %s on average)", name, s.n, mean(s.sandbox), mean(s.process)))
	}
	return fmt.Sprintf("%s; shared targets purged in %s", strings.Join(parts, ", "), round(time.Duration(purge*float64(time.Second))))
}

// selfCPU is the user and system time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readResults reads an experiment's results.json from st.
func readResults(ctx context.Context, st store.Store, exp string) (*results.File, error) {
	rc, err := st.Get(ctx, results.Key(exp))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var f results.File
	if err := json.NewDecoder(rc).Decode(&f); err != nil {
		return nil, err
	}
	return &f, nil
}

// classified reports whether f has every one of n crates with a class and
// no confirmation pending.
func classified(f *results.File, n int) bool {
	if len(f.Crates) != n {
		return false
	}
	for _, c := range f.Crates {
		if c.Class == results.ClassPending || c.Confirmation == results.ConfirmationPending {
			return false
		}
	}
	return true
}

// durations are the run's build times: every first build and re-run.
func (r experimentRun) durations() []time.Duration {
	var out []time.Duration
	for _, c := range r.file.Crates {
		for _, res := range c.Results {
			out = append(out, time.Duration(res.DurationMS)*time.Millisecond)
		}
		for _, round := range c.Reruns {
			for _, res := range round {
				out = append(out, time.Duration(res.DurationMS)*time.Millisecond)
			}
		}
	}
	return out
}

func (r experimentRun) busy() time.Duration {
	var sum time.Duration
	for _, d := range r.durations() {
		sum += d
	}
	return sum
}

// reruns says how many crates had confirmation re-runs, and how many
// builds they took.
func (r experimentRun) reruns() string {
	crates, builds := 0, 0
	var why []string
	for _, c := range r.file.Crates {
		if len(c.Reruns) == 0 {
			continue
		}
		crates++
		for _, round := range c.Reruns {
			builds += len(round)
		}
		why = append(why, fmt.Sprintf("%s %s", c.Name, c.Confirmation))
	}
	if crates == 0 {
		return "no re-runs"
	}
	return fmt.Sprintf("re-runs of %d crates, %d builds (%s)", crates, builds, strings.Join(why, ", "))
}

// compareVerdicts compares, crate by crate, ejecta's class with the
// loop's pass or fail on each toolchain (baseline first). It returns how
// many agree and a description of each that does not.
func compareVerdicts(f *results.File, jobs []loopJob, toolchains []string) (int, []string) {
	loop := map[string][]bool{}
	for _, j := range jobs {
		k := j.crate.String()
		if loop[k] == nil {
			loop[k] = make([]bool, len(toolchains))
		}
		loop[k][slices.Index(toolchains, j.tc)] = j.pass
	}
	agree := 0
	var disagree []string
	for _, c := range f.Crates {
		k := producer.Crate{Name: c.Name, Version: c.Version}.String()
		l, ok := loop[k]
		if !ok {
			disagree = append(disagree, k+": not built by the loop")
			continue
		}
		if want := loopClass(l[0], l[1]); classAgrees(c.Class, want) {
			agree++
		} else {
			disagree = append(disagree, fmt.Sprintf("%s: ejecta %s, loop %s", k, c.Class, want))
		}
	}
	return agree, disagree
}

// loopClass names the loop's outcome on the baseline and the other toolchain.
func loopClass(base, other bool) string {
	switch {
	case base && other:
		return "pass/pass"
	case base:
		return "pass/fail"
	case other:
		return "fail/pass"
	}
	return "fail/fail"
}

// classAgrees reports whether an ejecta class says what the loop's
// outcome does: both pass (tests skipped counting as passed, as the loop
// skips them too), a regression, a fix, or both fail (for
// whatever reason: a crate that cannot be resolved is broken to ejecta
// and a failed cargo check to the loop).
func classAgrees(c results.Class, loop string) bool {
	switch c {
	case results.ClassSameTestPass, results.ClassSameTestSkipped:
		return loop == "pass/pass"
	case results.ClassRegressed, results.ClassSpuriousRegressed, results.ClassFlaky:
		return loop == "pass/fail"
	case results.ClassFixed, results.ClassSpuriousFixed:
		return loop == "fail/pass"
	case results.ClassSameBuildFail, results.ClassSameTestFail, results.ClassBroken, results.ClassPrepareFail:
		return loop == "fail/fail"
	}
	return false
}

// keepLoopLogs copies each loop job's cargo output under dir.
func keepLoopLogs(t testing.TB, jobs []loopJob, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		b, err := os.ReadFile(filepath.Join(j.dir, "log"))
		if err != nil {
			continue
		}
		name := fmt.Sprintf("%s-%s-%s.log", j.crate.Name, j.crate.Version, j.tc)
		_ = os.WriteFile(filepath.Join(dir, name), fmt.Appendf(b, "took %s\n", j.took), 0o644)
	}
}

// keepFile copies the file at path into EnvKeep's directory as name, when
// that is set, for a look at what a row measured.
func keepFile(t testing.TB, path, name string) {
	dir := os.Getenv(EnvKeep)
	if dir == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err != nil {
		t.Errorf("keep %s in %s: %v", path, dir, err)
	}
}
