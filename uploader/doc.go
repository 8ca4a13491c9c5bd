// Package uploader moves complete build logs from NATS JetStream into the
// object store, one streamed object per attempt.
//
// # Work
//
// A builder publishes an attempt's log as chunks on streams.LogSubject, then
// an end marker, then a streams.UploadRequest on streams.UploadSubject. The
// request means "this log is complete on LogsStream". Requests sit in the
// UploadsStream work queue and every uploader replica pulls from the one
// durable consumer streams.UploadersConsumer, one request per free slot
// (Config.Concurrency), so each log is handled by one replica at a time.
// A replica that dies mid-log stops sending InProgress; after the consumer's
// AckWait the request goes to another replica, which redoes the log from
// the chunks still on the stream.
//
// # One request
//
//  1. Decode the request. Bytes that do not decode (garbage, another schema
//     version) are published unchanged to streams.DeadSubject with an
//     Ejecta-Dead-Reason header and the request is terminated: redelivering
//     it could never succeed.
//     A request of an experiment whose jobs carry tickets must be signed
//     with its job's ticket (streams.JobKey, vouch.go), else it is
//     dead-lettered; a signed one is stored only if the log on the stream
//     is exactly what it says (end marker, length, sha256).
//  2. If LogsStream holds nothing on the log's subject, an earlier delivery
//     already stored and purged it: if the object is in the store, ack. If it
//     is not, the log is lost and the request is dead-lettered.
//  3. Otherwise read the subject from the start (buildlog.Reader, an
//     ordered consumer that checks that sequence numbers run 1, 2, 3, ...
//     and that each chunk's offset is the number of bytes before it, and
//     hashes every byte once, for the end marker and the metadata) and
//     pass the data once to a logSink, which in the same pass
//     zstd-compresses it into one store Put (size -1: a streamed, multipart
//     upload), streams the plain bytes into another (the key results link
//     to), renders the HTML page (head and tail only for a long log) into a
//     staging file, and counts bytes and lines. The log is never held in memory: what is in flight
//     is bounded by Config.ReadAheadBytes, one part buffer per streamed
//     object, the compressor's window and the page's head and tail.
//  4. At the end marker, compare its byte count and sha256 with what was
//     streamed. Only if they match are the pipes closed cleanly, which lets
//     the Puts complete; then the page and, last, the metadata JSON are
//     stored. On any mismatch, hole or error the pipes are closed with that
//     error, so the Puts abandon their uploads and no object appears (or
//     keeps its previous content). The metadata's presence therefore means
//     the log is stored; step 2 looks for it.
//  5. Purge what was read of the log's subject from LogsStream, so the
//     stream only holds logs in flight, then ack the request and wait for
//     the server to confirm.
//
// # Holes and abandoned logs
//
// A hole (a chunk missing) fails the request, which is retried: the chunk
// may only be late. After Config.LenientAfter deliveries the log is stored
// anyway, with a streams.GapMarkerPrefix line where chunks are missing and
// the gaps listed in the metadata, never silently shortened. What even
// that read cannot take (an end marker the bytes do not match) sends the
// request to the dead stream and leaves the log on LogsStream.
//
// For an experiment whose jobs carry tickets, only the log messages signed
// with the job's ticket are read (buildlog.Verify); whatever else was
// published on the subject is skipped and counted.
//
// A builder that dies leaves a log without an end marker and asks for no
// upload. Every replica sweeps LogsStream each Config.SweepInterval: a log
// whose last message is not an end marker, when a later attempt of the same
// build has started or it has been silent for Config.AbandonAfter or, if
// longer, as long as its experiment's no-output timeout lets a live build
// be (silence.go, from the experiment's record), gets an upload request on
// streams.AbandonedUploadSubject with the streams.HdrAbandoned header (its
// Nats-Msg-Id keeps replicas from asking twice). It is stored as far as the
// stream holds it and marked abandoned in its metadata and page. Only
// uploaders may publish on that subject; the header on a builder's request
// is ignored, so that no builder can have another's live log stored as
// abandoned and purged. A subject of LogsStream that is no build's log
// (streams.ParseLogSubject refuses it) is purged once silent for as long.
// The sweep reads the last message of every log once, a batch at a time,
// through a consumer of its own (streams.LastLogMessagesConsumer): what it
// holds does not grow with the number of logs waiting. It also logs the
// backlog, as a warning while uploads fail.
//
// A log judged abandoned that goes on after all (a slow builder, a blocked
// log stream) has its start in the store only. Its next upload stitches:
// the stored abandoned bytes, checked against their metadata, then the rest
// from the stream, the whole checked against the end marker, replace the
// abandoned objects. A log that cannot be joined so is not stored over the
// abandoned one; its request is dead-lettered (stitch.go).
//
// A failed attempt is given back with a delay (Nak) that doubles with each
// delivery up to Config.MaxRetryDelay, spread by ±20% so that requests failed
// by one storage outage do not all return at once; meanwhile their chunks
// wait on the stream. While a request is worked on it is
// reported InProgress every Config.ProgressInterval, well within AckWait.
// On shutdown a request in progress is given back at once for another
// replica.
//
// Run binds to streams that streams.Ensure has created; it does not create
// them itself because only the caller knows their sizing (replicas, limits).
package uploader
