package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/builder/workspace"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// loopJob is one build of the plain cargo loop: a crate on a toolchain.
type loopJob struct {
	crate producer.Crate
	tc    string
	dir   string // its job dir, as workspace.New lays it out
	pass  bool
	took  time.Duration // cargo's run, as the job's shell timed it
}

// loopRun is what cargoLoop measured.
type loopRun struct {
	jobs []loopJob
	wall time.Duration // the first job started to the last one done
	cpu  time.Duration // user and system time of every process of the loop
	load float64       // the host's mean one-minute load average meanwhile
}

// checkScript runs one check-only job of the loop, $1 its job dir and $2
// its toolchain: cargo check in the wrapper package with the job's own
// CARGO_HOME, target dir and HOME, offline; it writes cargo's exit code
// and its wall time in milliseconds to $1/exit.
const checkScript = `d=$1 tc=$2
s=$(date +%s%N)
cd "$d/wrapper" && CARGO_HOME="$d/cargo-home" CARGO_TARGET_DIR="$d/target" HOME="$d/home" \
	"$BENCH_CARGO" +"$tc" check --offline >"$d/log" 2>&1
rc=$?
e=$(date +%s%N)
echo "$rc $(((e - s) / 1000000))" >"$d/exit"
`

// testScript runs one build-and-test job of the loop, as plainly as a
// shell loop would and with the builder's outcome rules: cargo build in
// the wrapper package; then, in the copy of the crate as the root package,
// cargo test, unless the crate's own dependencies (its dev-dependencies)
// cannot be resolved from the source, when its tests are skipped, as the
// builder skips them. Its exit code is cargo build's if that failed, else
// cargo test's (0 when skipped).
const testScript = `d=$1 tc=$2
s=$(date +%s%N)
export CARGO_HOME="$d/cargo-home" CARGO_TARGET_DIR="$d/target" HOME="$d/home"
{
	cd "$d/wrapper" && "$BENCH_CARGO" +"$tc" build --offline
	rc=$?
	if [ $rc = 0 ] && cd "$d/crate" && "$BENCH_CARGO" +"$tc" generate-lockfile --offline; then
		"$BENCH_CARGO" +"$tc" test --offline
		rc=$?
	fi
} >"$d/log" 2>&1
e=$(date +%s%N)
echo "$rc $(((e - s) / 1000000))" >"$d/exit"
`

// cargoLoop is the baseline a build farm must beat on one machine: a shell
// loop, `xargs -P slots`, running cargo per crate and toolchain
// (checkScript, or testScript for build-and-test) in a fresh wrapper
// package that depends on exactly that crate version (the builder's own,
// made by workspace.New, so it reads the same directory source through the
// same cargo config), nothing shared between jobs. It returns the jobs with their verdicts, the loop's wall time and
// its CPU time; the job dirs are made before.
func cargoLoop(ctx context.Context, t testing.TB, mode streams.Mode, cargo, rustupHome, source string, crates []producer.Crate, toolchains []string, slots int) loopRun {
	t.Helper()
	root := t.TempDir()
	var jobs []loopJob
	var lines strings.Builder
	for _, c := range crates {
		for _, tc := range toolchains {
			dir := filepath.Join(root, fmt.Sprintf("%s-%s-%s", c.Name, c.Version, tc))
			ws, err := workspace.New(dir, &streams.Job{BuildKey: streams.BuildKey{Crate: c.Name, Version: c.Version, Toolchain: tc}, CrateSource: source}, 0, 0, nil)
			if err != nil {
				t.Fatalf("cargo loop: job dir of %s on %s: %v", c, tc, err)
			}
			if mode == streams.ModeBuildAndTest {
				err = copyCrate(ws, source, c)
			}
			ws.Close()
			if err != nil {
				t.Fatalf("cargo loop: job dir of %s on %s: %v", c, tc, err)
			}
			jobs = append(jobs, loopJob{crate: c, tc: tc, dir: dir})
			fmt.Fprintf(&lines, "%s %s\n", dir, tc)
		}
	}
	script := filepath.Join(root, "job.sh")
	text := checkScript
	if mode == streams.ModeBuildAndTest {
		text = testScript
	}
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "xargs", "-P", fmt.Sprint(slots), "-L", "1", "/bin/sh", script)
	cmd.Stdin = strings.NewReader(lines.String())
	cmd.Env = append(os.Environ(), "BENCH_CARGO="+cargo, "RUSTUP_HOME="+rustupHome)
	load := measure.WatchLoad(5 * time.Second)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	run := loopRun{wall: time.Since(start), load: load.Stop()}
	if err != nil {
		t.Fatalf("cargo loop: xargs: %v\n%s", err, out)
	}
	// xargs waited for every job, so its rusage counts theirs.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for i := range jobs {
		j := &jobs[i]
		var rc, ms int
		b, err := os.ReadFile(filepath.Join(j.dir, "exit"))
		if err == nil {
			_, err = fmt.Sscan(string(b), &rc, &ms)
		}
		if err != nil {
			t.Fatalf("cargo loop: %s on %s left no exit code: %v", j.crate, j.tc, err)
		}
		j.pass, j.took = rc == 0, time.Duration(ms)*time.Millisecond
	}
	run.jobs = jobs
	return run
}

// copyCrate copies crate c from source into ws as the root package, as the
// builder does for build-and-test.
func copyCrate(ws *workspace.Workspace, source string, c producer.Crate) error {
	dir, err := workspace.FindCrate(source, c.Name, c.Version)
	if err != nil {
		return err
	}
	return ws.CopyCrate(dir, source, false)
}
