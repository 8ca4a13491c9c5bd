// Package results is results.json, the report's data: every crate version
// of an experiment with its latest result on each toolchain, its
// confirmation re-runs and how the two toolchains compare (its Class, as
// crater names them). The reporter writes it; the log archives, the web UI
// and people's scripts read it, every reader through Read, which streams
// the crates one by one and refuses a file of another version.
package results
