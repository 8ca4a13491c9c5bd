package uploader

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// A log judged abandoned may be only late: its builder was slow, or its
// log stream blocked, and it finishes the log after the uploaders stored
// what the stream held and purged it. The log's start is then in the store
// only, its rest on the stream. Copied from the stream alone, the log would
// begin with a hole and overwrite the start. Instead the upload stitches:
// it streams the stored abandoned bytes, checked against their metadata's
// length and sha256, then the chunks that follow them on the stream, and
// checks the whole against the end marker (or, for a log still without
// one, stores it abandoned again, now longer). Only a log that checks out
// replaces the stored objects; one that cannot be joined verifiably keeps
// the abandoned log, stores nothing over it, and its request is
// dead-lettered, the rest of the log left on the stream for an operator.

// errUnstitchable marks a log whose stored abandoned start cannot be
// joined verifiably to its rest on the stream.
var errUnstitchable = errors.New("the stored abandoned start of the log cannot be joined to its rest")

// abandonedStart returns the metadata of the abandoned log stored for the
// log on subj, when the stream no longer holds the log's first chunk; nil
// when it does, or when no abandoned log is stored.
func (u *Uploader) abandonedStart(ctx context.Context, logs jetstream.Stream, subj, metaKey, ticket string) (*streams.LogMeta, error) {
	first, err := firstSigned(ctx, logs, subj, ticket)
	if err != nil || first == nil {
		return nil, err
	}
	c, end, err := buildlog.ParseMsg(first.Header, first.Data)
	if err != nil || (c != nil && c.Seq == 1) || (end != nil && end.Chunks == 0) {
		return nil, nil // the start is on the stream, or the copy reports what is wrong
	}
	meta, err := u.storedMeta(ctx, metaKey)
	if err != nil || meta == nil || !meta.Abandoned {
		return nil, err // no meta: a hole, which the copy reports
	}
	return meta, nil
}

// maxUnsigned bounds the messages firstSigned looks past.
const maxUnsigned = 256

// firstSigned returns the first message on subj signed with ticket (the
// first of all without one): what others published ahead of the builder's
// messages must not decide where its log starts. nil when there is none,
// or none within maxUnsigned messages; the read that follows then finds
// out what is missing.
func firstSigned(ctx context.Context, logs jetstream.Stream, subj, ticket string) (*jetstream.RawStreamMsg, error) {
	seq := uint64(1)
	for range maxUnsigned {
		m, err := logs.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("first message: %w", err)
		}
		if ticket == "" || buildlog.Signed(subj, m.Header, m.Data, ticket) {
			return m, nil
		}
		seq = m.Sequence + 1
	}
	return nil, nil
}

// storedMeta reads the metadata of a stored log; nil when there is none.
func (u *Uploader) storedMeta(ctx context.Context, metaKey string) (*streams.LogMeta, error) {
	rc, err := u.st.Get(ctx, metaKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", metaKey, err)
	}
	defer rc.Close()
	var meta streams.LogMeta
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&meta); err != nil {
		return nil, fmt.Errorf("%w: metadata %s: %v", errUnstitchable, metaKey, err)
	}
	return &meta, nil
}

// writeStart streams the stored abandoned log of attempt of k, which meta
// describes, into w and returns where the copy from the stream takes up
// (buildlog.Resume). The bytes must be the ones meta vouches for, without
// gap markers; or, when a stitch was cut short after the log objects were
// replaced but before the metadata was, the whole log end (from the
// stream) vouches for.
func (u *Uploader) writeStart(ctx context.Context, w io.Writer, k streams.BuildKey, attempt int, meta *streams.LogMeta, end *streams.LogEnd) (buildlog.Option, error) {
	if len(meta.Gaps) > 0 {
		return nil, fmt.Errorf("%w: it was stored with %d gap(s) marked in it", errUnstitchable, len(meta.Gaps))
	}
	// The plain log needs no decompressing; it is not kept everywhere.
	key := streams.LogObjectKey(k, attempt)
	if meta.Plain == "" {
		key = streams.LogRawKey(k, attempt)
	}
	rc, err := u.st.Get(ctx, streams.ExperimentPrefix(k.Experiment)+key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s is gone", errUnstitchable, key)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if meta.Plain == "" {
		zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		defer zr.Close()
		r = zr
	}
	sum := sha256.New()
	// The stored start keeps the times it was stored with.
	times := u.storedTimes(ctx, meta)
	n, err := buildlog.CopyTimed(hashing{w, sum}, r, 0, times, make([]byte, buildlog.MaxChunkBytes))
	if err != nil {
		return nil, fmt.Errorf("copy stored %s: %w", key, err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	switch {
	case uint64(n) == meta.Bytes && strings.EqualFold(got, meta.SHA256):
	case end != nil && uint64(n) == end.Bytes && strings.EqualFold(got, end.SHA256):
	default:
		return nil, fmt.Errorf("%w: stored %s has %d bytes with sha256 %s, its metadata says %d bytes with sha256 %s",
			errUnstitchable, key, n, got, meta.Bytes, meta.SHA256)
	}
	return buildlog.Resume(uint64(n), sum), nil
}

// endOf returns the end marker m is, or nil; with a ticket, only one
// signed with it.
func endOf(m *jetstream.RawStreamMsg, ticket string) *streams.LogEnd {
	if m == nil || m.Header.Get(buildlog.HdrKind) != buildlog.KindEnd {
		return nil
	}
	if ticket != "" && !buildlog.Signed(m.Subject, m.Header, m.Data, ticket) {
		return nil
	}
	_, end, err := buildlog.ParseMsg(m.Header, m.Data)
	if err != nil {
		return nil
	}
	return end
}

// stitchFailure is err, a failed upload, marked unstitchable when it is
// final: a log joined to a stored abandoned start (start not nil) is never
// stored leniently, so a fault in it that outlasted the retries means the
// abandoned log stays as it is.
func stitchFailure(start *streams.LogMeta, how uploadHow, err error) error {
	var le *buildlog.Error
	if start != nil && how.lenient && errors.As(err, &le) && !errors.Is(err, errUnstitchable) {
		return fmt.Errorf("%w: %w", errUnstitchable, err)
	}
	return err
}

// storedTimes reads the times index of the stored log meta describes; nil
// when it has none or it cannot be read, and the start then goes without.
func (u *Uploader) storedTimes(ctx context.Context, meta *streams.LogMeta) []streams.LogTime {
	if meta.Times == "" {
		return nil
	}
	times, err := buildlog.StoredTimes(ctx, u.st, streams.ExperimentPrefix(meta.Experiment)+streams.LogTimesKey(meta.BuildKey, meta.Attempt))
	if err != nil {
		u.log.Warn().Err(err).Str("build", meta.BuildKey.String()).Msg("reading the times of a stored log start; it is stitched without them")
		return nil
	}
	return times
}

// hashing passes writes on to w, timed or not, and sums them in h.
type hashing struct {
	w io.Writer
	h hash.Hash
}

func (t hashing) Write(p []byte) (int, error) {
	t.h.Write(p)
	return t.w.Write(p)
}

func (t hashing) WriteTimed(p []byte, at time.Time) (int, error) {
	t.h.Write(p)
	if tw, ok := t.w.(buildlog.TimedWriter); ok {
		return tw.WriteTimed(p, at)
	}
	return t.w.Write(p)
}
