// Package producer turns an experiment request into an experiment record in
// KV and one job per selected crate version and toolchain on the jobs work
// queue.
//
// Creating an experiment is idempotent: every job is published with a
// Nats-Msg-Id, and the experiment record counts how many jobs were
// published, so repeating `experiment create` with the same arguments (after
// a crash half-way, or by mistake days later) adds no job, while the same name
// with other arguments is refused.
package producer
