package store

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestS3(t *testing.T) {
	m := testenv.StartMinIO(t)
	var n atomic.Int64
	testStore(t, func(t *testing.T) Store {
		// One bucket, a fresh prefix per subtest: also exercises prefixes.
		st, err := NewS3(context.Background(), S3Config{
			Endpoint: m.Endpoint, Bucket: "suite", Prefix: fmt.Sprintf("run/%d", n.Add(1)),
			AccessKey: m.AccessKey, SecretKey: m.SecretKey,
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestS3OpenAndLocation(t *testing.T) {
	m := testenv.StartMinIO(t)
	t.Setenv(EnvS3AccessKey, m.AccessKey)
	t.Setenv(EnvS3SecretKey, m.SecretKey)
	ctx := context.Background()
	st, err := Open(ctx, strings.Replace(m.StoreURL("ejecta"), "?", "/exp/?", 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Location("logs/1.log"), "s3://ejecta/exp/logs/1.log"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	put(t, st, "logs/1.log", "x")
	// A second Open finds the bucket already there.
	again, err := Open(ctx, m.StoreURL("ejecta"))
	if err != nil {
		t.Fatalf("Open on an existing bucket: %v", err)
	}
	if got := string(get(t, again, "exp/logs/1.log")); got != "x" {
		t.Errorf("Get through the bucket root = %q, want %q", got, "x")
	}

	t.Setenv(EnvS3SecretKey, "wrong-secret")
	if _, err := Open(ctx, m.StoreURL("ejecta")); err == nil {
		t.Error("Open with a wrong secret key: no error")
	}
}

// Bad keys are refused before any request: this client points at a port
// nothing listens on, so any I/O would fail with a connection error instead.
func TestS3BadKeyNoIO(t *testing.T) {
	client, err := minio.New("127.0.0.1:1", &minio.Options{Creds: credentials.NewStaticV4("a", "b", "")})
	if err != nil {
		t.Fatal(err)
	}
	st := &S3{client: client, bucket: "b"}
	ctx := context.Background()
	for _, key := range []string{"../x", "/x", "a//b"} {
		if err := st.Put(ctx, key, mustNotRead{t}, -1, ""); err == nil || !strings.Contains(err.Error(), "object key") {
			t.Errorf("Put(%q) = %v, want a key error", key, err)
		}
		if _, err := st.Get(ctx, key); err == nil || !strings.Contains(err.Error(), "object key") {
			t.Errorf("Get(%q) = %v, want a key error", key, err)
		}
	}
}

// A report file is rewritten every second while an experiment runs: a Get
// that started before a rewrite reads one whole version, never an error.
func TestS3GetWhileRewritten(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	st, err := NewS3(ctx, S3Config{Endpoint: m.Endpoint, Bucket: "rewrite", AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 20
	version := func(i int) string { return strings.Repeat(string(rune('a'+i%2)), size) }
	put(t, st, "exp/results.json", version(0))
	for i := 1; i <= 10; i++ {
		rc, err := st.Get(ctx, "exp/results.json")
		if err != nil {
			t.Fatal(err)
		}
		put(t, st, "exp/results.json", version(i))
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read while rewritten (%d): %v", i, err)
		}
		if len(data) != size || strings.Trim(string(data), string(data[:1])) != "" {
			t.Fatalf("read while rewritten (%d): %d bytes, not one whole version", i, len(data))
		}
	}
}

// An object read from S3 seeks by asking for a range: the size without
// reading, any offset read from there, the end as an empty read.
func TestS3GetSeeks(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	st, err := NewS3(ctx, S3Config{Endpoint: m.Endpoint, Bucket: "seek", AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	want := b.String()
	put(t, st, "logs/big.log", want)
	rc, err := st.Get(ctx, "logs/big.log")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	s, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatalf("%T does not seek", rc)
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(s, head); err != nil || string(head) != want[:10] {
		t.Fatalf("head %q, %v", head, err)
	}
	for _, tc := range []struct {
		offset int64
		whence int
		at     int64
	}{
		{0, io.SeekEnd, int64(len(want))},
		{-7, io.SeekEnd, int64(len(want)) - 7},
		{1000, io.SeekStart, 1000},
		{5, io.SeekCurrent, 1069}, // 64 bytes read at 1000, then 5 on
		{0, io.SeekStart, 0},
	} {
		at, err := s.Seek(tc.offset, tc.whence)
		if err != nil || at != tc.at {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", tc.offset, tc.whence, at, err, tc.at)
		}
		got := make([]byte, min(64, int64(len(want))-at))
		if _, err := io.ReadFull(s, got); err != nil || string(got) != want[at:at+int64(len(got))] {
			t.Fatalf("read at %d: %q, %v; want %q", at, got, err, want[at:at+int64(len(got))])
		}
	}
	if _, err := s.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("read at the end: %d, %v; want 0, EOF", n, err)
	}
	if _, err := s.Seek(-1, io.SeekStart); err == nil {
		t.Error("seek before the start: no error")
	}
}
