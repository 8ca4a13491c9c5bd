// Package streams is the single source of truth for everything ejecta keeps
// on NATS JetStream: stream, consumer and KV bucket names, the subject
// scheme, and the versioned JSON message types exchanged between the
// producer, builders, uploaders and the reporter.
//
// No other package spells a subject or a stream name; they call the typed
// helpers here (JobSubject, LogSubject, ...) so the scheme can change in one
// place. Ensure creates or updates every stream, consumer and bucket and is
// safe to call from every component at start-up. Components running as a
// role (RolePermissions, derived from the same names) call Lookup instead:
// only the admin role may create or update streams.
//
// Results and upload requests are tied to the builder handed their job by
// job tickets (tickets.go).
//
// The failure reasons builders give and reports show are one vocabulary,
// reasons.go: each reason with crater's name for it, whether it is spurious,
// and ParseReason, which every decoded result's reason passes.
//
// # Subjects
//
//	ejecta.jobs.<exp>.<crate>.<version>.<toolchain>               job to build (work queue)
//	ejecta.logs.<exp>.<crate>.<version>.<toolchain>.<attempt>     log chunks of one attempt
//	ejecta.uploads.<exp>.<crate>.<version>.<toolchain>.<attempt>  "this log is complete" (work queue)
//	ejecta.uploads-abandoned.<exp>.<crate>.<version>.<toolchain>.<attempt>
//	                                                              "store this abandoned log" (same queue; uploaders only)
//	ejecta.queued.<exp>.<crate>.<version>.<toolchain>             a job's headers, republished by the jobs stream (no body)
//	ejecta.results.<exp>.<crate>.<version>.<toolchain>.<attempt>  result of one attempt
//	ejecta.dead.<exp>.<sender>                                    dead letters (poison messages), under who filed them
//
// Every token is escaped with EscapeToken: bytes outside [A-Za-z0-9_-] become
// %XX (upper-case hex), so "1.0.0" is "1%2E0%2E0". The escaping is reversible
// (UnescapeToken) and yields tokens that never contain '.', '*', '>', '/',
// whitespace or non-ASCII bytes, which also makes them safe as object-key
// path segments.
package streams
