// Package cargo is what a builder runs for one job, as crater runs it: the
// job's mode (check-only, build-only, build-and-test, clippy, rustdoc,
// fix, miri, unstable-features) as cargo steps, each a task in the sandbox
// with the build's environment and limits (step.go, steps.go, mode_*.go),
// and the verdict read from their output as it streams past: crater's
// statuses and the failure reasons of streams/reasons.go (classify.go),
// read from cargo's JSON messages where cargo prints them, which are
// turned back into the text they stand for on their way into the log
// (output.go, message.go), and from the text elsewhere. It
// also knows the toolchains a builder has (rustup's and those given as
// directories, their components and rustc's version, toolchains.go) and
// prepares crates from a remote registry (registry.go).
//
// A Build is one attempt's; the builder's attempt fills it in, makes the
// job dir (builder/workspace) and calls Steps, which returns the Verdict.
package cargo
