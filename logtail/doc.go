// Package logtail reads a build's log from its first byte, whether the
// build is still running or long finished: while the log is on
// streams.LogsStream it is read there (a buildlog.Reader, which checks it)
// and followed live; once an uploader has stored it (and purged the
// chunks) it is read from the store. A reader that is following a log when it moves switches
// from the stream to the store at the byte it had reached, so one call
// serves live and archived logs alike, as LUCI LogDog's read API does.
//
// `ejecta tail`, `ejecta logs` and the web UI's live log page all read
// through this package. It also lists which builds of an experiment have a
// job, a log or a result, so that "crate X of experiment E" can be resolved
// to a version, toolchain and attempt, and it provides the writers that
// present a log on a terminal: a per-line prefixer for many builds at once
// and a sanitizer that passes on text and colours and no other control.
package logtail
