// Package builder takes build jobs from JetStream and builds them in a
// sandbox: ejecta's equivalent of a crater agent.
//
// A Builder runs Config.Slots slots. Each slot takes one job at a time from
// the durable consumers every builder shares, one per experiment and
// toolchain (streams.JobsConsumer), trying the experiments by priority and
// only the toolchains it has (queues.go), so a job waits in the stream, not
// in a busy builder, until some slot is free. An experiment aborted or
// deleted while its builds run has them stopped: their logs end with reason
// "experiment-aborted" and no result is published.
//
// # One attempt, as a state machine
//
//	fetched ──decode fails──▶ buried: raw bytes to the dead stream, Term
//	   │    ──body names another build than the subject, or a toolchain
//	   │      this builder does not offer──▶ buried likewise, never run
//	   ▼
//	check     the mode's rustup components (clippy; miri, rust-src) ──missing──▶ error
//	   │
//	   ▼
//	prepare   wrapper package in a fresh job dir;
//	   │      cargo generate-lockfile --offline ──fails──▶ broken
//	   ▼
//	build     check-only:  cargo check --frozen  → test-pass  | build-fail(reason)
//	   │      build-only:  cargo build --frozen  → test-skipped | build-fail(reason)
//	   │      build-and-test: cargo build --frozen ──fails──▶ build-fail(reason)
//	   │      clippy, rustdoc, fix, miri: on a copy of the crate as root package
//	   │      (mode_*.go); unstable-features: scan the sources, no compiler
//	   ▼
//	test      (build-and-test) copy of the crate as root package;
//	   │      generate-lockfile fails → test-skipped; cargo test → test-pass | test-fail(reason),
//	   │      test-skipped when libtest ran no test
//	   ▼
//	finish    log end marker → upload request → result → DoubleAck → job dir removed
//
// Every step is one sandbox task; the attempt as a whole has a wall timeout
// (reason "timeout") and a no-output timeout (its tasks print nothing for
// that long: "no-output-timeout"), both killing the running task; the job's
// streams.Limits set them and the memory limit, else Config's defaults. A
// task killed for memory gives "oom" (from containerd's OOM event), and a
// sandbox that fails gives status error ("sandbox-error"), never a crate
// failure. Otherwise the reason is read from cargo's output as it streams
// past (no-space, ice, network-access, depends-on(...),
// compiler-error(...), unknown; see classify.go).
//
// While an attempt runs the job is kept with InProgress every
// Config.InProgressEvery. When Run's context ends the builder drains: it
// takes no new job and lets running ones finish for Config.DrainGrace (or
// until Abort), then kills them and Naks their jobs: JetStream delivers
// them again at once, as a new attempt with a new log. A builder that
// crashes is cleaned up after by the next one started with the same ID:
// its sandbox tasks and its job dirs are removed at start; its jobs come
// back after the consumer's AckWait. A job delivered more times than it
// has attempts (streams.JobAttempts) was never finished by anyone: it ends
// as error "gave up after N attempts" and goes to the dead stream.
//
// Below Config.MinFreeDiskBytes on the work dir's disk the builder takes
// no new jobs; its heartbeat says so, with the free space and its version.
//
// # The log
//
// A task's stdout and stderr and the builder's own system lines ("[ejecta] "
// prefixed) share one log sequence: a chunker cuts the bytes into chunks
// tagged with their stream, at most streams.MaxChunkBytes each and at most
// 50 ms old, each stamped with the time of its first byte, and publishes
// them in order on the attempt's LogSubject,
// waiting for each ack. A full LogsStream refuses publishes; the chunker
// then retries until uploaders make room, and meanwhile blocks the writers,
// so the compiler waits on its pipe: bytes are delayed, never dropped.
package builder
