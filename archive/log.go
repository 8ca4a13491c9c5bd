package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// maxMetaBytes bounds what is read of a metadata object: a real one is a
// few hundred bytes.
const maxMetaBytes = 1 << 20

// maxDecoderWindow bounds a decoder's memory. The uploader compresses with
// a 1 MiB window; a log compressed with a larger one than this is refused
// rather than allowed to grow the heap.
const maxDecoderWindow = 8 << 20

// copyBuffer is the buffer size of a streamed log's copy.
const copyBuffer = 64 << 10

// storedLog is one entry about to be written: its metadata, and its bytes
// when they were read ahead.
type storedLog struct {
	entry Entry
	meta  streams.LogMeta
	// ahead is set when data holds the whole log; held is what it took
	// from the budget.
	ahead bool
	data  []byte
	held  int64
}

func (l *storedLog) size() int64 { return int64(l.meta.Bytes) }

// header is the log's tar header: a plain file, dated when its last byte
// reached the stream so that rebuilding an archive yields the same bytes.
func (l *storedLog) header() *tar.Header {
	mod := l.meta.LastAt
	if mod.IsZero() {
		mod = l.meta.StoredAt
	}
	return &tar.Header{Typeflag: tar.TypeReg, Name: l.entry.Name, Size: l.size(), Mode: 0o644, ModTime: mod.UTC()}
}

// writeTo writes the log as the next entry of tw: from memory if it was
// read ahead, otherwise streamed from the store with dec.
func (l *storedLog) writeTo(ctx context.Context, tw *tar.Writer, st store.Store, prefix string, dec *zstd.Decoder) (int64, error) {
	if err := tw.WriteHeader(l.header()); err != nil {
		return 0, fmt.Errorf("log %s: tar header: %w", l.entry.Name, err)
	}
	if l.ahead {
		if _, err := tw.Write(l.data); err != nil {
			return 0, fmt.Errorf("log %s: %w", l.entry.Name, err)
		}
		return l.size(), nil
	}
	rc, err := openLog(ctx, st, prefix, &l.meta, dec)
	if err != nil {
		return 0, fmt.Errorf("log %s: %w", l.entry.Name, err)
	}
	defer rc.Close()
	if err := copyVerified(tw, rc, &l.meta, make([]byte, copyBuffer)); err != nil {
		return 0, fmt.Errorf("log %s (%s): %w", l.entry.Name, st.Location(prefix+logObject(&l.meta)), err)
	}
	return l.size(), nil
}

// readMeta reads the metadata of e, waiting up to wait for it to appear.
func readMeta(ctx context.Context, st store.Store, prefix string, e Entry, wait time.Duration) (streams.LogMeta, error) {
	var meta streams.LogMeta
	deadline := time.Now().Add(wait)
	pause := 100 * time.Millisecond
	for {
		rc, err := st.Get(ctx, prefix+e.Meta)
		if errors.Is(err, store.ErrNotFound) {
			left := time.Until(deadline)
			if left <= 0 {
				return meta, fmt.Errorf("log %s: metadata %s: %w (no upload finished it)",
					e.Name, st.Location(prefix+e.Meta), ErrMissingLog)
			}
			t := time.NewTimer(min(pause, left))
			select {
			case <-ctx.Done():
				t.Stop()
				return meta, ctx.Err()
			case <-t.C:
			}
			pause = min(2*pause, 2*time.Second)
			continue
		}
		if err != nil {
			return meta, fmt.Errorf("log %s: read metadata: %w", e.Name, err)
		}
		err = json.NewDecoder(io.LimitReader(rc, maxMetaBytes)).Decode(&meta)
		rc.Close()
		if err == nil {
			err = checkMeta(&meta)
		}
		if err != nil {
			return meta, fmt.Errorf("log %s: metadata %s: %w", e.Name, st.Location(prefix+e.Meta), err)
		}
		return meta, nil
	}
}

func checkMeta(m *streams.LogMeta) error {
	if m.Bytes > math.MaxInt64 {
		return fmt.Errorf("bytes %d out of range", m.Bytes)
	}
	key := logObject(m)
	if key == "" {
		return errors.New("names neither a raw nor a plain log object")
	}
	if err := store.ValidateKey(key); err != nil {
		return fmt.Errorf("log object: %w", err)
	}
	return nil
}

// logObject is the key (relative to the prefix) the log's bytes are read
// from: the compressed raw object, smaller to fetch, else the plain one.
func logObject(m *streams.LogMeta) string {
	if m.Raw != "" {
		return m.Raw
	}
	return m.Plain
}

// openLog opens the bytes of the log m describes, decompressed with dec if
// they are stored compressed. dec is in use until the reader is closed.
func openLog(ctx context.Context, st store.Store, prefix string, m *streams.LogMeta, dec *zstd.Decoder) (io.ReadCloser, error) {
	rc, err := st.Get(ctx, prefix+logObject(m))
	if err != nil {
		return nil, err
	}
	if m.Raw == "" {
		return rc, nil
	}
	if err := dec.Reset(rc); err != nil {
		rc.Close()
		return nil, fmt.Errorf("zstd %s: %w", st.Location(prefix+m.Raw), err)
	}
	return decoded{dec, rc}, nil
}

type decoded struct {
	dec *zstd.Decoder
	rc  io.Closer
}

func (d decoded) Read(p []byte) (int, error) { return d.dec.Read(p) }

func (d decoded) Close() error {
	// Detach the decoder from the object so that it keeps no reference.
	d.dec.Reset(nil)
	return d.rc.Close()
}

func newDecoder() (*zstd.Decoder, error) {
	// Concurrency 1 decodes in the caller's goroutine with one window of
	// memory; low-mem trades a little speed for smaller buffers.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxDecoderWindow))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return dec, nil
}

// copyVerified copies the log from src to dst and checks it against its
// metadata: exactly m.Bytes bytes, with m.SHA256. An archive entry must be
// the stored log, not a part of it.
func copyVerified(dst io.Writer, src io.Reader, m *streams.LogMeta, buf []byte) error {
	h := sha256.New()
	want := int64(m.Bytes)
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), io.LimitReader(src, want), buf)
	if err != nil {
		return err
	}
	if n < want {
		return fmt.Errorf("log is %d bytes, its metadata says %d", n, want)
	}
	var one [1]byte
	switch k, err := io.ReadFull(src, one[:]); {
	case k > 0:
		return fmt.Errorf("log is longer than the %d bytes its metadata says", want)
	case err != io.EOF:
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); m.SHA256 != "" && got != m.SHA256 {
		return fmt.Errorf("log's sha256 is %s, its metadata says %s", got, m.SHA256)
	}
	return nil
}
