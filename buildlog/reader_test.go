package buildlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
)

// publishLog starts a server and publishes the first chunks of a log on it.
func publishLog(t *testing.T, chunks ...string) (jetstream.JetStream, *buildlogtest.Log) {
	t.Helper()
	js := startJetStream(t, streams.DefaultConfig())
	l := buildlogtest.NewLog(t, js, testKey, 1)
	for _, c := range chunks {
		l.Write(c)
	}
	return js, l
}

// readAll opens the log of l and writes it all to a buffer.
func readAll(t *testing.T, js jetstream.JetStream, l *buildlogtest.Log, opts ...buildlog.Option) (*buildlog.Reader, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	r, err := buildlog.Open(ctx, js, streams.LogSubject(l.Build, l.Attempt), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var out bytes.Buffer
	_, err = r.WriteTo(&out)
	return r, out.String(), err
}

func TestReaderStrict(t *testing.T) {
	js, l := publishLog(t, "one\n", "two\n")
	end := l.End(streams.StatusTestPass)
	r, got, err := readAll(t, js, l)
	if err != nil || got != "one\ntwo\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if *r.End() != end || r.SHA256() != end.SHA256 || r.Offset() != 8 || r.LastSeq() != 3 || r.First().IsZero() || r.Last().Before(r.First()) {
		t.Errorf("end %+v, sha256 %s, offset %d, last seq %d, first %s, last %s", r.End(), r.SHA256(), r.Offset(), r.LastSeq(), r.First(), r.Last())
	}
}

// Strictly, a hole, a chunk at the wrong offset or an end marker that does
// not describe the bytes read ends the read with an *Error naming it.
func TestReaderStrictFaults(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	for i, tc := range []struct {
		name    string
		publish func(l *buildlogtest.Log)
		seq     uint64
		missing bool
		problem string
	}{
		{"a hole", func(l *buildlogtest.Log) {
			l.Write("a\n")
			l.Lose("b\n")
			l.Write("c\n")
		}, 2, true, "chunk 2 missing: the next chunk on the stream is 3"},
		{"a hole at the end", func(l *buildlogtest.Log) {
			l.Write("a\n")
			l.Lose("b\n")
		}, 2, true, "chunk 2 missing: the end marker is 3"},
		{"a chunk at the wrong offset", func(l *buildlogtest.Log) {
			l.Write("a\n")
			m := buildlog.NewChunkMsg(streams.LogSubject(l.Build, l.Attempt), buildlog.Chunk{Seq: 2, Offset: 7, Data: []byte("b\n")})
			if _, err := js.PublishMsg(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}, 2, false, "chunk at offset 7, want 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := buildlogtest.NewLog(t, js, streams.BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"}, i+1)
			tc.publish(l)
			if !strings.Contains(tc.name, "offset") {
				l.End(streams.StatusTestPass)
			}
			_, _, err := readAll(t, js, l, buildlog.Idle(time.Second))
			var fault *buildlog.Error
			if !errors.As(err, &fault) || fault.Seq != tc.seq || fault.Problem != tc.problem || errors.Is(err, buildlog.ErrMissing) != tc.missing {
				t.Errorf("read: %v, want a fault at seq %d: %s", err, tc.seq, tc.problem)
			}
		})
	}
	// An end marker that lies about the bytes.
	l := buildlogtest.NewLog(t, js, testKey, 9)
	l.Write("a\n")
	m, err := buildlog.NewEndMsg(streams.LogSubject(testKey, 9), 2, streams.LogEnd{Chunks: 1, Bytes: 2, SHA256: "00"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAll(t, js, l); err == nil || !strings.Contains(err.Error(), `end marker sha256 "00"`) {
		t.Errorf("read of a log whose end marker lies: %v", err)
	}
}

// Leniently, holes are marked in the bytes and listed, and the read goes
// on to the end marker.
func TestReaderLenient(t *testing.T) {
	js, l := publishLog(t, "a\n")
	l.Lose("lost")
	l.Write("c\n")
	l.End(streams.StatusTestPass)
	r, got, err := readAll(t, js, l, buildlog.Lenient())
	want := "a\n" + streams.GapMarkerPrefix + "chunks 2 to 2 missing; 4 bytes missing at offset 2]\nc\n"
	if err != nil || got != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	if g := r.Gaps(); len(g) != 1 || g[0] != (streams.LogGap{Offset: 2, Bytes: 4, FirstSeq: 2, LastSeq: 2}) {
		t.Errorf("gaps %+v", g)
	}
	if r.SHA256() != buildlogtest.SHA256([]byte(want)) {
		t.Errorf("sha256 %s is not that of the bytes written, markers included", r.SHA256())
	}
}

// A follower waits for chunks to come; a read idle for its period says so
// and is taken up again where it was.
func TestReaderIdleAndFollow(t *testing.T) {
	js, l := publishLog(t, "first\n")
	r, err := buildlog.Open(context.Background(), js, streams.LogSubject(testKey, 1), buildlog.Idle(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	if _, err := r.WriteTo(&out); !errors.Is(err, buildlog.ErrIdle) || out.String() != "first\n" {
		t.Fatalf("read %q, %v; want the first chunk, then idle", out.String(), err)
	}
	l.Write("second\n")
	l.End(streams.StatusTestPass)
	if _, err := r.WriteTo(&out); err != nil || out.String() != "first\nsecond\n" || r.End() == nil {
		t.Fatalf("read on %q, %v, end %+v", out.String(), err, r.End())
	}
}

// UpToNow and Until end a read without an end marker; From writes only
// what lies past an offset.
func TestReaderStops(t *testing.T) {
	js, l := publishLog(t, "0123456789", "abcdef", "ABC")
	r, got, err := readAll(t, js, l, buildlog.UpToNow())
	if err != nil || got != l.String() || r.End() != nil {
		t.Errorf("up to now: %q, %v, end %v", got, err, r.End())
	}
	if r, got, err = readAll(t, js, l, buildlog.Until(2)); err != nil || got != "0123456789abcdef" || r.LastSeq() != 2 {
		t.Errorf("until 2: %q, %v, last seq %d", got, err, r.LastSeq())
	}
	if r, got, err = readAll(t, js, l, buildlog.UpToNow(), buildlog.From(12)); err != nil || got != "cdefABC" || r.Offset() != 19 {
		t.Errorf("from 12: %q, %v, offset %d", got, err, r.Offset())
	}
}

// A resumed read takes a log up after bytes already written and summed,
// and checks the whole against the end marker.
func TestReaderResume(t *testing.T) {
	js, l := publishLog(t, "stored ", "start, ", "then the rest\n")
	l.End(streams.StatusTestPass)
	sum := sha256.New()
	sum.Write([]byte("stored start, "))
	r, got, err := readAll(t, js, l, buildlog.Resume(14, sum), buildlog.Lenient())
	if err != nil || got != "then the rest\n" || r.SHA256() != buildlogtest.SHA256([]byte(l.String())) {
		t.Errorf("resumed read %q, %v, sha256 %s", got, err, r.SHA256())
	}
	sum = sha256.New()
	sum.Write([]byte("stored"))
	if _, _, err := readAll(t, js, l, buildlog.Resume(6, sum)); err == nil || !strings.Contains(err.Error(), "the written start ends at 6") {
		t.Errorf("a resume between chunks: %v", err)
	}
}

// As an io.Reader, the log's bytes, then io.EOF; a TimedWriter gets each
// chunk's time.
func TestReaderReadAndTimes(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := buildlogtest.NewLog(t, js, testKey, 1)
	l.WriteAt(strings.Repeat("x", 100), t0)
	l.WriteAt("y\n", t0.Add(time.Second))
	l.End(streams.StatusTestPass)
	r, err := buildlog.Open(context.Background(), js, streams.LogSubject(testKey, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Read alone, not WriteTo: io.ReadAll would use no other.
	got, err := io.ReadAll(struct{ io.Reader }{r})
	if err != nil || string(got) != l.String() {
		t.Fatalf("ReadAll: %q, %v", got, err)
	}

	var tw buildlogtest.TimedBuffer
	r2, err := buildlog.Open(context.Background(), js, streams.LogSubject(testKey, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.WriteTo(&tw); err != nil || tw.String() != l.String() || len(tw.Times) != 2 || !tw.Times[1].Equal(t0.Add(time.Second)) {
		t.Errorf("timed read %q (%v) with times %v", tw.String(), err, tw.Times)
	}
}
