// Package reporter turns the stream of build results into what a person
// reads, under each experiment's prefix in the object store:
//
//	results.json               every crate version, its results and verdict
//	config.json                the experiment as created
//	index.html                 progress, class counts, regressions and fixes grouped by root cause
//	full.html, full-XX.html    every crate, on pages by the first two letters of its name
//	markdown.md                a summary to paste into a GitHub comment
//	retry-regressed-list.txt   regressions, for `experiment create --crates @FILE`
//	logs-archives/<class>.tar.zst, logs-archives/manifest.json
//	                           every log by class, once the experiment is finished
//	                           (archives.go; package archive builds them)
//	crater/results.json, crater/config.json, crater/retry-regressed-list.txt
//	                           the same experiment in crater's shapes, for tools
//	                           written for crater's reports (craterview.go)
//	crater/logs-archives/, crater/<toolchain>/reg/<crate>-<version>/log.txt
//	                           its logs as crater lays them out, once the experiment
//	                           is finished, with the archives above
//
// and a streams.Progress summary in the progress KV bucket, which
// `experiment status` reads. Every page carries progress (done / total,
// rate, ETA) and is a static file with relative links only, so it works
// opened from disk or served from S3. Everything that comes from a crate or
// a log is escaped.
//
// # State
//
// The reporter keeps no state of its own on disk: its state is a replay of
// the results stream. It tails every result with an ordered consumer from
// the beginning of streams.ResultsStream, so a restarted reporter (even one
// killed with SIGKILL) rebuilds exactly the same state and writes the same
// results.json. Per build (experiment, crate, version, toolchain) and run
// only the highest attempt counts, which makes a duplicated delivery or a
// retried attempt harmless. Replay was chosen over a KV snapshot because
// the stream is already the durable record of every result; the price is a
// replay at start, a few seconds per 100k results.
//
// Every experiment record is read, with one watch of the bucket, before
// the first result, and followed from then on (records.go). A result whose
// experiment has no record waits for it apart, for at most
// Config.RecordGrace from when the stream stored it, and bounded in count
// and bytes in all; it is then refused (pending.go). A replay refuses at
// once what waited longer than that.
//
// For an experiment whose jobs carry tickets (streams.JobKey) a result
// counts only when signed with the ticket of its build and run, which only
// the builder handed that job knows; any other goes to the dead stream
// (tickets.go). With a job key, an experiment without a record is taken as
// one whose jobs carry tickets. Re-runs the reporter queues carry tickets
// of their own.
//
// # Verdicts
//
// Each crate version is classified by comparing its result under the
// experiment's baseline toolchain with its result under the new one, with
// crater's rules (Compare; crater_test.go is crater's own table); the
// failure reasons, and which of them are spurious, are streams.Reason's. A
// regression whose failure is depends-on(dep) is grouped under dep, its
// root cause. Every regression is re-run on both toolchains
// (Config.Confirmations times, default 1) before it shows as confirmed; a
// re-run that does not regress again makes the crate flaky. A spurious
// regression gets one re-run and is cleared if it passes. Re-runs
// are ordinary jobs whose attempts are numbered from
// streams.RerunAttemptBase, so they have logs of their own and are never
// counted as builds.
//
// # Cost
//
// The work per result does not grow with the experiment: counts are kept
// incrementally, each crate's results.json entry and HTML row are rendered
// once per change and cached, a results.json write is a list of those
// cached parts, and index.html, markdown.md and the retry list hold only
// regressions and fixes. Writes are debounced (Config.Debounce): a burst
// causes one write, a steady stream one per debounce, or per four times
// what the last write took when that is longer (a write of a crater-sized
// experiment takes seconds). Only the pages of full.html that changed are
// rewritten, at most every few debounces. Past Config.WholeFromCrates
// crates, the files with every crate (results.json, the crater view's,
// the pages) are left out of most writes and rewritten on a cadence of
// their own, and at once when the last first-run result or the end of
// the experiment comes, by a writer of their own beside the changes'
// (whole.go).
package reporter
