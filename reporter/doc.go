// Package reporter turns the stream of build results into what a person
// reads: a results.json and a static index.html per experiment in the object
// store, and a streams.Progress summary in the progress KV bucket.
//
// The reporter keeps no state of its own on disk. It tails every result with
// an ordered consumer from the beginning of streams.ResultsStream, so a
// restarted reporter rebuilds exactly the same state by replay. Per build
// (experiment, crate, version, toolchain) only the highest attempt counts,
// which makes a duplicated delivery or a retried attempt harmless.
//
// Each crate version is classified by comparing its result under the
// experiment's baseline toolchain with its result under the new one, with
// crater's rules (Compare). Reports are rewritten at most once per
// Config.Debounce per experiment, so a burst of results causes one write.
package reporter
