// Package buildlog is a build's log on NATS JetStream, both ways: how the
// builder cuts a task's output into chunks and publishes them, and how
// every reader (the uploader, `ejecta tail` and `ejecta logs`, the web UI)
// reads them back and checks them.
//
// A log travels on streams.LogSubject as numbered chunks, each framed in
// headers (frame.go: sequence number, byte offset, output stream, time),
// and ends with an end marker counting its chunks and bytes and giving
// their sha256.
package buildlog
