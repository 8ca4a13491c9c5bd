package measure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// maxPending bounds the asynchronous publishes in flight, well under the
// client's own limit.
const maxPending = 2048

// PublishLog publishes size bytes read from r as one attempt's log, as a
// builder does: chunks of buildlog.MaxChunkBytes, the end marker, then the
// upload request. It returns once the server has stored every message,
// with the log's sha256 and its number of chunks.
func PublishLog(ctx context.Context, js jetstream.JetStream, k streams.BuildKey, attempt int, r io.Reader, size int64) (sum []byte, chunks int, err error) {
	sum, chunks, err = PublishLogAsync(ctx, js, k, attempt, r, size)
	if err != nil {
		return nil, 0, err
	}
	if err := WaitPublished(ctx, js); err != nil {
		return nil, 0, err
	}
	return sum, chunks, nil
}

// PublishLogAsync is PublishLog without waiting for its last messages to
// be stored, to publish many logs at the server's pace; WaitPublished
// waits for them.
func PublishLogAsync(ctx context.Context, js jetstream.JetStream, k streams.BuildKey, attempt int, r io.Reader, size int64) (sum []byte, chunks int, err error) {
	subj := streams.LogSubject(k, attempt)
	h := sha256.New()
	var off int64
	for off < size {
		data := make([]byte, min(int64(buildlog.MaxChunkBytes), size-off))
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, 0, fmt.Errorf("read the log to publish: %w", err)
		}
		h.Write(data)
		chunks++
		c := buildlog.Chunk{Seq: uint64(chunks), Offset: uint64(off), Stream: buildlog.StreamStdout, Data: data}
		if err := publishAsync(ctx, js, buildlog.NewChunkMsg(subj, c)); err != nil {
			return nil, 0, fmt.Errorf("publish chunk %d of %s: %w", chunks, subj, err)
		}
		off += int64(len(data))
	}
	sum = h.Sum(nil)
	end := streams.LogEnd{Status: streams.StatusTestPass, Chunks: uint64(chunks), Bytes: uint64(size), SHA256: hex.EncodeToString(sum)}
	m, err := buildlog.NewEndMsg(subj, end.Chunks+1, end)
	if err != nil {
		return nil, 0, err
	}
	if err := publishAsync(ctx, js, m); err != nil {
		return nil, 0, fmt.Errorf("publish the end of %s: %w", subj, err)
	}
	req, err := json.Marshal(streams.UploadRequest{V: streams.SchemaVersion, BuildKey: k, Attempt: attempt, End: end})
	if err != nil {
		return nil, 0, err
	}
	rm := nats.NewMsg(streams.UploadSubject(k, attempt))
	rm.Data = req
	if err := publishAsync(ctx, js, rm); err != nil {
		return nil, 0, fmt.Errorf("publish the upload request of %s: %w", subj, err)
	}
	return sum, chunks, nil
}

// publishAsync publishes m without waiting for its acknowledgement, first
// waiting for earlier ones when too many are in flight.
func publishAsync(ctx context.Context, js jetstream.JetStream, m *nats.Msg) error {
	if js.PublishAsyncPending() >= maxPending {
		if err := WaitPublished(ctx, js); err != nil {
			return err
		}
	}
	_, err := js.PublishMsgAsync(m)
	return err
}

// WaitPublished waits until the server has acknowledged every asynchronous
// publish made so far.
func WaitPublished(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %d publishes to be stored: %w", js.PublishAsyncPending(), ctx.Err())
	}
}
