// Package bench measures ejecta's hot paths, each beside a baseline or
// ceiling measured in the same run on the same machine, and renders them
// as one markdown table: figure, ejecta's value, the baseline, their
// ratio, the goal, pass or miss. Machines are small and shared, so a goal
// is judged on the ratio wherever there is a baseline, and an absolute
// figure is context.
//
// The harness runs as a Go test, because it starts the real things
// (NATS, MinIO, containerd) with internal/testenv and runs the uploader
// and reporter as child processes of the test binary, so that their CPU
// time and peak memory are theirs alone:
//
//	make bench                 # every benchmark; writes BENCHMARKS.md
//	make bench BENCH=logs      # one (or a comma-separated few); prints only
//	go test ./bench/           # smoke: tiny sizes, nothing judged
//
// Benchmarks (names for BENCH): logs, rss, pool, report, tail, sandbox,
// attempt, slotgap, cores, produce, jobs, scaling, grep, crates,
// crates-test; see Default. The crates row builds Debian's crates with the
// real toolchains (scripts/setup.sh bench installs them) and takes most of
// the run: about 20 minutes on two cores.
//
// scale runs only when named (make bench BENCH=scale; see Alone): crater's
// size, the producer publishing 1.4M jobs and the reporter following 1.4M
// results. EJECTA_BENCH_SCALE_CRATES=N runs it at N crates for a quicker
// look, EJECTA_BENCH_HEAPPROFILE=DIR has the reporter write a heap profile
// at the end, and EJECTA_REPORTER_MEMORY_LIMIT=SIZE gives the reporter a
// soft memory limit, as it gives `ejecta reporter`.
package bench
