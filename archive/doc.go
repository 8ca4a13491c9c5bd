// Package archive builds the log archives of a finished experiment, one
// tar.zst per comparison class with the logs of its crates, from its
// results.json and the stored logs, and their manifest, written last
// (Build, build.go); the reporter asks for them once an experiment is
// finished, `ejecta archive` on demand. With them come the crater view's
// archives and its log.txt, one per first run (crater.go), which
// `ejecta export --crater` also writes elsewhere (ExportCrater).
//
// Each archive is written by streaming (Write): each log is read from the
// store (its zstd-compressed raw object decompressed, or the plain object),
// written as one tar entry, and the tar stream is compressed with zstd and
// piped into a store Put of unknown size (a multipart upload on S3, a file
// write on disk). Neither a whole log nor
// the archive is ever held in memory; crater built its log tarballs in
// memory and its report generation ran out of it.
//
// Reading objects one by one costs a store round trip each, so a bounded
// pool of readers fetches the next logs while the current one is written.
// What the pool holds in memory is bounded by a byte budget
// (Options.Budget), not by a count of objects: a log small enough is read
// ahead into memory once its bytes are reserved from the budget, a larger
// one is streamed straight from the store when its turn in the archive
// comes. Reservations are taken in archive order, so the log being written
// always has its bytes and the pool cannot deadlock on the budget.
//
// Every log is described by its metadata object (streams.LogMeta), which the
// uploader writes last: its presence means the log is complete, and its
// size and sha256 are checked against the bytes that go into the archive.
package archive
