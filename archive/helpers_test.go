package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

const testPrefix = "exp/"

// stores returns the stores every behaviour is checked on: a directory,
// and a bucket on a real MinIO server.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"file": func(t *testing.T) store.Store {
			st, err := store.NewFile(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"minio": func(t *testing.T) store.Store {
			m := testenv.StartMinIO(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			st, err := store.NewS3(ctx, store.S3Config{Endpoint: m.Endpoint, Bucket: "archives",
				AccessKey: m.AccessKey, SecretKey: m.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// logSource produces n bytes of log: lines of text a compiler might print
// mixed with runs of random bytes, the same for the same seed.
type logSource struct {
	rng  *rand.Rand
	left int64
	line []byte
}

func newLogSource(n int64, seed uint64) *logSource {
	return &logSource{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), left: n}
}

func (s *logSource) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.left)]
	n := 0
	for n < len(p) {
		if len(s.line) == 0 {
			if s.rng.IntN(4) == 0 {
				s.line = make([]byte, 256)
				for i := 0; i < len(s.line); i += 8 {
					binary.LittleEndian.PutUint64(s.line[i:], s.rng.Uint64())
				}
			} else {
				s.line = []byte("   Compiling crate-" + strconv.Itoa(s.rng.IntN(1000)) + " v1.0.0 (/build)\n")
			}
		}
		k := copy(p[n:], s.line)
		s.line = s.line[k:]
		n += k
	}
	s.left -= int64(n)
	return n, nil
}

// storedLog describes a log a test stored.
type testLog struct {
	entry  Entry
	bytes  int64
	sha256 string
}

// putLog stores a log of n bytes as the uploader does: compressed (or
// plain), then its metadata. It streams, so logs far larger than memory
// can be stored.
func putLog(t *testing.T, st store.Store, name string, n int64, seed uint64, compressed bool) testLog {
	t.Helper()
	ctx := context.Background()
	base := "logs/" + strconv.FormatUint(seed, 10) + "/" + name
	h := sha256.New()
	src := io.TeeReader(newLogSource(n, seed), h)
	meta := streams.LogMeta{V: streams.LogMetaVersion, Bytes: uint64(n), LastAt: time.Unix(1700000000, 0).UTC(),
		StoredAt: time.Now().UTC()}
	if compressed {
		meta.Raw = base + ".log.zst"
		pr, pw := io.Pipe()
		go func() {
			zw, err := zstd.NewWriter(pw, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20),
				zstd.WithEncoderLevel(zstd.SpeedFastest))
			if err == nil {
				_, err = io.Copy(zw, src)
				err = errors.Join(err, zw.Close())
			}
			pw.CloseWithError(err)
		}()
		if err := st.Put(ctx, testPrefix+meta.Raw, pr, -1, ""); err != nil {
			t.Fatal(err)
		}
	} else {
		meta.Plain = base + ".log"
		if err := st.Put(ctx, testPrefix+meta.Plain, src, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	meta.SHA256 = hex.EncodeToString(h.Sum(nil))
	putMeta(t, st, base+".json", meta)
	return testLog{entry: Entry{Name: name, Meta: base + ".json"}, bytes: n, sha256: meta.SHA256}
}

func putMeta(t *testing.T, st store.Store, key string, meta streams.LogMeta) {
	t.Helper()
	data, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), testPrefix+key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
}

// archived is one entry read back from an archive.
type archived struct {
	name   string
	bytes  int64
	sha256 string
	data   []byte // only for small entries
}

// readArchive reads back the archive at key, streaming, entry by entry.
func readArchive(t *testing.T, st store.Store, key string) []archived {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get archive: %v", err)
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []archived
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read archive %s: %v", key, err)
		}
		h := sha256.New()
		var small limitedBuffer
		n, err := io.Copy(io.MultiWriter(h, &small), tr)
		if err != nil {
			t.Fatalf("read archive %s entry %s: %v", key, hdr.Name, err)
		}
		if n != hdr.Size {
			t.Fatalf("entry %s: %d bytes, header says %d", hdr.Name, n, hdr.Size)
		}
		out = append(out, archived{name: hdr.Name, bytes: n, sha256: hex.EncodeToString(h.Sum(nil)), data: small.b})
	}
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// checkArchive asserts that the archive at key holds exactly logs, in
// order, each byte-identical to what was stored.
func checkArchive(t *testing.T, st store.Store, key string, logs []testLog) {
	t.Helper()
	got := readArchive(t, st, key)
	if len(got) != len(logs) {
		t.Fatalf("archive %s holds %d entries, want %d: %v", key, len(got), len(logs), names(got))
	}
	for i, l := range logs {
		g := got[i]
		if g.name != l.entry.Name || g.bytes != l.bytes || g.sha256 != l.sha256 {
			t.Errorf("entry %d: %s, %d bytes, sha256 %s; want %s, %d bytes, sha256 %s",
				i, g.name, g.bytes, g.sha256, l.entry.Name, l.bytes, l.sha256)
		}
	}
}

func names(as []archived) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s (%d)", a.name, a.bytes))
	}
	return out
}

func exists(t *testing.T, st store.Store, key string) bool {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return true
}
