package uploader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// env is one test's NATS server with ejecta's streams, and a file store.
type env struct {
	t  *testing.T
	nc *nats.Conn
	js jetstream.JetStream
	st *store.File
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := testenv.StartNATS(t)
	nc, js := srv.Connect(t)
	if err := streams.Ensure(context.Background(), js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, nc: nc, js: js, st: st}
}

// fastConfig makes failures visible within a test's patience.
func fastConfig(name string) Config {
	return Config{Name: name, IdleTimeout: 500 * time.Millisecond, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second}
}

// run starts an uploader on st until the test ends.
func (e *env) run(cfg Config, st store.Store) {
	e.t.Helper()
	u, err := New(cfg, e.nc, st, zerolog.New(zerolog.NewTestWriter(e.t)))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
}

func buildKey(exp, crate string) streams.BuildKey {
	return streams.BuildKey{Experiment: exp, Crate: crate, Version: "1.0.0", Toolchain: "stable"}
}

// chunks cuts data into chunks of at most size bytes.
func chunks(data []byte, size int) []buildlog.Chunk {
	var cs []buildlog.Chunk
	for off := 0; off < len(data); off += size {
		n := min(size, len(data)-off)
		cs = append(cs, buildlog.Chunk{Seq: uint64(len(cs) + 1), Offset: uint64(off), Stream: buildlog.StreamStdout, Data: data[off : off+n]})
	}
	return cs
}

func endFor(data []byte, nchunks int) streams.LogEnd {
	sum := sha256.Sum256(data)
	return streams.LogEnd{Status: streams.StatusBuildFail, ExitCode: 101, Chunks: uint64(nchunks),
		Bytes: uint64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// publishLog publishes cs and end as a builder would, then the upload
// request.
func (e *env) publishLog(k streams.BuildKey, attempt int, cs []buildlog.Chunk, end streams.LogEnd) {
	e.t.Helper()
	ctx := context.Background()
	subj := streams.LogSubject(k, attempt)
	for _, c := range cs {
		if _, err := e.js.PublishMsg(ctx, buildlog.NewChunkMsg(subj, c)); err != nil {
			e.t.Fatalf("publish chunk %d: %v", c.Seq, err)
		}
	}
	m, err := buildlog.NewEndMsg(subj, end.Chunks+1, end)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(ctx, m); err != nil {
		e.t.Fatalf("publish end: %v", err)
	}
	e.publishRequest(k, attempt, end)
}

func jsonRequest(k streams.BuildKey, attempt int, end streams.LogEnd) ([]byte, error) {
	return json.Marshal(streams.UploadRequest{V: streams.SchemaVersion, BuildKey: k, Attempt: attempt, End: end})
}

func (e *env) publishRequest(k streams.BuildKey, attempt int, end streams.LogEnd) {
	e.t.Helper()
	data, err := jsonRequest(k, attempt, end)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), streams.UploadSubject(k, attempt), data); err != nil {
		e.t.Fatalf("publish request: %v", err)
	}
}

func objectKey(k streams.BuildKey, attempt int) string {
	return streams.ExperimentPrefix(k.Experiment) + streams.LogObjectKey(k, attempt)
}

// object returns the stored log, or nil and false.
func object(t *testing.T, st store.Store, k streams.BuildKey, attempt int) ([]byte, bool) {
	t.Helper()
	rc, err := st.Get(context.Background(), objectKey(k, attempt))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data, true
}

// stored is what the store holds for one attempt: every object decoded.
type stored struct {
	plain, raw []byte // the plain log, the zstd one decompressed
	page       string
	meta       streams.LogMeta
}

// storedLog reads every object of an attempt; it fails the test if one is
// missing or does not decode.
func storedLog(t *testing.T, st store.Store, k streams.BuildKey, attempt int) stored {
	t.Helper()
	pfx := streams.ExperimentPrefix(k.Experiment)
	read := func(key string) []byte {
		t.Helper()
		rc, err := st.Get(context.Background(), pfx+key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return data
	}
	var s stored
	s.plain = read(streams.LogObjectKey(k, attempt))
	zr, err := zstd.NewReader(bytes.NewReader(read(streams.LogRawKey(k, attempt))))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if s.raw, err = io.ReadAll(zr); err != nil {
		t.Fatalf("%s: decompress: %v", streams.LogRawKey(k, attempt), err)
	}
	s.page = string(read(streams.LogPageKey(k, attempt)))
	if err := json.Unmarshal(read(streams.LogMetaKey(k, attempt)), &s.meta); err != nil {
		t.Fatalf("%s: %v", streams.LogMetaKey(k, attempt), err)
	}
	return s
}

// logMsgs is how many messages LogsStream holds for the attempt.
func (e *env) logMsgs(k streams.BuildKey, attempt int) uint64 {
	e.t.Helper()
	subj := streams.LogSubject(k, attempt)
	s, err := e.js.Stream(context.Background(), streams.LogsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subj))
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Subjects[subj]
}

// streamMsgs is how many messages a stream holds.
func (e *env) streamMsgs(name string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.State.Msgs
}

// uploadsConsumer returns the shared consumer's state.
func (e *env) uploadsConsumer() *jetstream.ConsumerInfo {
	e.t.Helper()
	c, err := e.js.Consumer(context.Background(), streams.UploadsStream, streams.UploadersConsumer)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func crateName(i int) string { return fmt.Sprintf("crate-%02d", i) }

// minioStore starts a MinIO server and opens a store on bucket in it. The
// credentials are put in the environment, where store.Open and replicas
// started as child processes read them.
func minioStore(t *testing.T, bucket string) (testenv.MinIO, store.Store) {
	t.Helper()
	m := testenv.StartMinIO(t)
	t.Setenv(store.EnvS3AccessKey, m.AccessKey)
	t.Setenv(store.EnvS3SecretKey, m.SecretKey)
	st, err := store.Open(context.Background(), m.StoreURL(bucket))
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}
