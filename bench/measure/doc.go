// Package measure holds the instruments that ejecta's benchmarks (package
// bench) and the tests checking the same figures with loose bounds share:
// a child process's CPU time and peak memory read from /proc, quantiles of
// latencies, a TCP proxy that adds latency, a generator of log-like bytes
// a publisher of logs as a builder writes them, and the done_jobs count at
// the head of a results.json. Of ejecta it imports
// only streams, so that the tests of any other package can use it.
package measure
