// Package builder takes build jobs from JetStream and builds them in a
// sandbox: ejecta's equivalent of a crater agent.
//
// A Builder runs Config.Slots slots. Each slot takes one job at a time from
// the durable consumers every builder shares, two per experiment and
// toolchain (streams.RerunsConsumer, streams.JobsConsumer), trying the
// experiments by priority, within one its confirmation re-runs first, and
// only the toolchains it has (queues.go), so a job waits in the stream, not
// in a busy builder, until some slot is free. An experiment aborted or
// deleted while its builds run has them stopped: their logs end with reason
// "experiment-aborted" and no result is published.
//
// This package is the builder's intake and its attempts: slots, queues,
// heartbeats and the drain (builder.go, slot.go, queues.go, job.go,
// heartbeat.go), and each attempt's course below (attempt.go, with its
// watchers: watchdog.go, logstall.go, quota.go). What an attempt runs is
// builder/cargo's (the mode's steps, their verdict, the toolchains); where
// it runs is builder/workspace's (the job dir) in builder/sandbox's tasks;
// its log is buildlog's.
//
// # One attempt, as a state machine
//
//	fetched ──decode fails──▶ buried: raw bytes to the dead stream, Term
//	   │    ──body names another build than the subject, or a toolchain
//	   │      this builder does not offer, or is a first run on a
//	   │      re-run's subject──▶ buried likewise, never run
//	   ▼
//	check     the mode's rustup components (clippy; miri, rust-src) ──missing──▶ error
//	   │
//	   ▼
//	prepare   rustc -vV (in the sandbox, once per toolchain); a crate source
//	   │      builds cannot read ──▶ error; wrapper package in a fresh job dir;
//	   │      cargo generate-lockfile --offline ──fails──▶ broken; the modes
//	   │      that need the crate as root package copy and resolve it now too
//	   │      (build-and-test: for its tests; clippy, rustdoc, fix, miri)
//	   │      target: a first run builds in its slot's shared target for the
//	   │      toolchain (purged first past its bound or on low disk), a
//	   │      confirmation re-run in the job dir's own, empty one
//	   ▼      ── from here on crate code runs: the job dir is hostile ──
//	build     check-only:  cargo check --frozen  → test-pass  | build-fail(reason)
//	   │      build-only:  cargo build --frozen  → test-skipped | build-fail(reason)
//	   │      build-and-test: cargo build --frozen ──fails──▶ build-fail(reason)
//	   │      clippy, rustdoc, fix, miri: on the crate's copy (cargo/mode_*.go);
//	   │      unstable-features: scan the sources, no compiler
//	   ▼
//	test      (build-and-test) tests skipped when the crate's copy could not
//	   │      be resolved; cargo test → test-pass | test-fail(reason),
//	   │      test-skipped when libtest ran no test
//	   ▼
//	finish    job dir removed; shared target purged if the attempt did not end
//	          by itself; then, while the slot takes its next job (slot.go):
//	          log end marker → upload request → result (saying whether it
//	          used a shared target) → DoubleAck
//
// Builds are hostile code. Each slot's builds run as an unprivileged user
// of their own (Config.BuildUID) that owns only the parts of the job dir
// builds write to; the builder reads and writes the job dir only through
// an os.Root on it, and only before the first step that runs crate code
// (builder/workspace). The one step with the network, resolving against a
// remote registry, runs no crate code and comes before any that does
// (resolveStep refuses otherwise). The toolchains and a local crate source
// are bound read-only into the sandbox; the work dir, the builder's
// credentials and the sandbox.DefaultHidden paths are hidden from it. The
// slot's shared target (sharedtarget.go) is bound writable beside the job
// dir; what a build script leaves there is what later builds of the slot
// build on, so the builder only measures and removes it, and never lets it
// decide a verdict alone (the reporter re-runs what it could have turned).
//
// An attempt's steps run in one sandbox (sandbox.Session): the first
// starts a container, each step is a process exec'd into it, and whatever
// a step leaves running is killed before the next one starts. Only the
// step with the network gets a container of its own. The attempt as a
// whole has a wall timeout (reason "timeout") and a no-output timeout
// (its steps print nothing for that long: "no-output-timeout"), both
// killing the running step with its container; the job's streams.Limits
// set them and the memory limit, else Config's defaults. A step killed for
// memory gives "oom" (from containerd's OOM events during that step), and
// a sandbox that fails, its container's init killed included, gives
// status error ("sandbox-error"), never a crate failure; so does a log
// that cannot be published ("log-unavailable", see The log below).
// Otherwise the reason is read from cargo's output as it streams past
// (no-space, ice, network-access, depends-on(...), compiler-error(...),
// unknown; see cargo/classify.go). Every reason, and whether it is
// spurious, is in streams/reasons.go.
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
// as error gave-up(N) and goes to the dead stream.
//
// Below Config.MinFreeDiskBytes on the work dir's disk the builder takes
// no new jobs; its heartbeat says so, with the free space and its version.
//
// # The log
//
// A task's stdout and stderr and the builder's own system lines ("[ejecta] "
// prefixed) share one log sequence (buildlog): a Chunker cuts the bytes
// into chunks tagged with their stream, at most buildlog.MaxChunkBytes each
// and at most 50 ms old, each stamped with the time of its first byte, and
// a Publisher publishes them in order on the attempt's LogSubject, up to
// Config.LogWindow of them unacknowledged at once. When the window is full
// the writers wait for acks; a chunk whose publish fails is published
// again, with every one after it, in order. A full LogsStream refuses
// publishes; the publisher then retries until uploaders make room, and
// meanwhile blocks the writers, so the compiler waits on its pipe: bytes
// are delayed, never dropped.
//
// That wait is the farm's, not the crate's (logstall.go): the no-output
// timeout does not count it, and an attempt it spoils ends as status error
// ("log-unavailable") and is handed back like a sandbox failure. It does
// when the log stays blocked for the attempt's no-output timeout (at most
// its wall timeout: the log is then given up and the build stopped), when a
// timeout kills the build while its output waits a second or more, or when
// the log cannot be published at all. Each wait of a second or more is
// told in the log ("log stream blocked for ..."), and all of them in
// ejecta_builder_log_blocked_seconds_total.
//
// Past Config.MaxLogBytes of task output only the head and each step's
// tail are logged (buildlog.Cap); the verdict still reads every byte.
package builder
