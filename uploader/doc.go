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
//  2. If LogsStream holds nothing on the log's subject, an earlier delivery
//     already stored and purged it: if the object is in the store, ack. If it
//     is not, the log is lost and the request is dead-lettered.
//  3. Otherwise read the subject from the start with an ordered consumer,
//     checking that sequence numbers run 1, 2, 3, ... and that each chunk's
//     offset is the number of bytes before it, and write the data into an
//     io.Pipe whose other end is the store's Put (size -1: a streamed,
//     multipart upload). A sha256 is computed on the way. The log is never
//     held in memory: what is in flight is bounded by Config.ReadAheadBytes
//     and the store's part size.
//  4. At the end marker, compare its byte count and sha256 with what was
//     streamed. Only if they match is the pipe closed cleanly, which lets
//     Put complete the object; on any mismatch, hole or error the pipe is
//     closed with that error, so Put abandons the upload and the object
//     never appears (or keeps its previous content).
//  5. Purge the log's subject from LogsStream, so the stream only holds logs
//     in flight, then ack the request and wait for the server to confirm.
//
// A failed attempt is given back with a delay (Nak) that doubles with each
// delivery up to Config.MaxRetryDelay. While a request is worked on it is
// reported InProgress every Config.ProgressInterval, well within AckWait.
// On shutdown a request in progress is given back at once for another
// replica.
//
// Run binds to streams that streams.Ensure has created; it does not create
// them itself because only the caller knows their sizing (replicas, limits).
package uploader
