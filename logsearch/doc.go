// Package logsearch finds the lines of an experiment's logs that match a
// regular expression: "which crates print this warning on nightly?",
// "where does this ICE message appear?". It reads the stored logs straight
// from the store, each decompressed on the fly (zstd) by one of a bounded
// number of workers, and the logs of builds still running from their
// chunks on the stream, so one search covers the whole experiment as it
// stands.
//
// A log is hostile text: lines are matched without their terminal escape
// sequences and shown without those or other control bytes, a line is
// matched on at most its first
// MaxLineBytes, and each worker holds at most MaxLinesPerLog lines of
// output, so memory is bounded by the number of workers, not by the logs.
//
// Without context lines, a worker matches the pattern against large
// blocks of the log at once and finds line numbers by counting newlines,
// as ripgrep does, instead of running the pattern once per line; every
// match is then confirmed on its own line, so a pattern that could span
// lines (\s, [^x]) matches within one line only, as grep's do.
package logsearch
