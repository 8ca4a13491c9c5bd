// Package builder takes build jobs from JetStream and builds them in a
// sandbox: ejecta's equivalent of a crater agent.
//
// A Builder runs Config.Slots slots. Each slot takes one job at a time from
// the durable consumer every builder shares (streams.BuildersConsumer), so a
// job waits in the stream, not in a busy builder, until some slot is free.
//
// # One attempt, as a state machine
//
//	fetched ──decode fails──▶ buried: raw bytes to the dead stream, Term
//	   │
//	   ▼
//	prepare   wrapper package in a fresh job dir;
//	   │      cargo generate-lockfile --offline ──fails──▶ broken
//	   ▼
//	build     check-only:  cargo check --frozen  → test-pass  | build-fail(reason)
//	   │      build-only:  cargo build --frozen  → test-skipped | build-fail(reason)
//	   │      build-and-test: cargo build --frozen ──fails──▶ build-fail(reason)
//	   ▼
//	test      (build-and-test) copy of the crate as root package;
//	   │      generate-lockfile fails → test-skipped; cargo test → test-pass | test-fail(reason)
//	   ▼
//	finish    log end marker → upload request → result → DoubleAck → job dir removed
//
// Every step is one sandbox task; the attempt as a whole has Config.Timeout
// (reason "timeout"), a task killed for memory gives "oom", and a sandbox
// that fails gives status error ("sandbox-error"), never a crate failure.
// Otherwise the reason is read from cargo's output as it streams past
// (ice, depends-on(...), compiler-error(...), unknown; see classify.go).
//
// While an attempt runs the job is kept with InProgress every
// Config.InProgressEvery. When the builder stops, running tasks are killed
// and their jobs are not acknowledged (Nak): JetStream delivers them again,
// as a new attempt with a new log. A builder that crashes is cleaned up
// after by the next one started with the same ID: its sandbox tasks and its
// job dirs are removed at start.
//
// # The log
//
// A task's stdout and stderr and the builder's own system lines ("[ejecta] "
// prefixed) share one log sequence: a chunker cuts the bytes into chunks
// tagged with their stream, at most streams.MaxChunkBytes each and at most
// 50 ms old, and publishes them in order on the attempt's LogSubject,
// waiting for each ack. A full LogsStream refuses publishes; the chunker
// then retries until uploaders make room, and meanwhile blocks the writers,
// so the compiler waits on its pipe: bytes are delayed, never dropped.
package builder
