package buildlog_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// testBuildUID is a user no one is, as the builder's slots run as.
const testBuildUID = 2_000_000_100

// A 10 MiB line with no newline at all, with invalid UTF-8, NUL bytes and
// escape sequences in it, printed by a real sandboxed task, arrives on the
// log subject byte for byte: no line splitting, no re-encoding. Every chunk
// carries the time of its first byte.
func TestLogBytesExact(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a containerd task")
	}
	addr := testenv.StartContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := testenv.DurableTempDir(t)
	os.Chmod(dir, 0o755) // the task's user reads the file in it
	sb, err := sandbox.New(ctx, sandbox.Config{Address: addr, Namespace: testenv.ContainerdNamespace(t), FIFODir: filepath.Join(dir, "fifo")})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	want := make([]byte, 10<<20)
	for i := range want {
		want[i] = byte(rand.IntN(256))
		if want[i] == '\n' {
			want[i] = 0xff
		}
	}
	copy(want[1000:], "\xc3\x28 \xed\xa0\x80 \xf0\x28\x8c\x28 \x00\x00 \x1b[1;31mred\x1b[0m \r")
	copy(want[len(want)-3:], "\x00\xff\x00") // the end, unterminated
	file := filepath.Join(dir, "line")
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}

	c, pub, js, subj := newTestLog(t, ctx)
	before := time.Now()
	exit, err := sb.Run(ctx, sandbox.Task{
		ID: "bytes-exact", Args: []string{"/bin/cat", file}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir,
		ReadOnlyDirs: []string{dir}, UID: testBuildUID, GID: testBuildUID,
		Stdout: c.Writer(buildlog.StreamStdout), Stderr: c.Writer(buildlog.StreamStderr),
	})
	if err != nil || exit.Code != 0 {
		t.Fatalf("cat in the sandbox: %+v, %v", exit, err)
	}
	chunks, end := endAndRead(t, c, pub, js, subj, 30*time.Second)
	if end == nil {
		t.Fatalf("no end marker after %d chunks", len(chunks))
	}
	got := buildlogtest.Sequence(t, chunks)
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("log differs from the task's output: %d bytes read back, %d printed, first difference at %d", len(got), len(want), i)
	}
	if end.Bytes != uint64(len(want)) || end.SHA256 != buildlogtest.SHA256(want) {
		t.Errorf("end marker %+v does not describe the %d bytes", end, len(want))
	}
	last := before
	for _, ch := range chunks {
		if ch.Time.Before(last) || ch.Time.After(time.Now()) {
			t.Fatalf("chunk %d time %s: want between %s and now, not before the previous chunk's", ch.Seq, ch.Time, last)
		}
		last = ch.Time
	}
}
