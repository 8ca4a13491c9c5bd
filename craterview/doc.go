// Package craterview is the crater view of an experiment: the files
// crater's report publishes that the Rust release team's tools read, in the
// shapes of crater's serde definitions (rust-lang/crater src/report/mod.rs,
// src/report/archives.rs, src/experiments.rs, src/toolchain.rs), so that
// those tools work on an ejecta experiment unchanged.
//
// It knows the names (where each file and log goes, how a name is
// percent-encoded) and the encodings (results.json's entries, config.json);
// the reporter keeps the view current from its state, package archive
// writes its log archives and log.txt copies, and `ejecta export --crater`
// writes the whole view of a stored experiment.
//
// The view holds only what crater knows: a crate's verdict and its first
// run. Confirmation re-runs, first errors and root causes stay in ejecta's
// own files.
package craterview
