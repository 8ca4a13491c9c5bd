package store

import (
	"context"
	"fmt"
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
