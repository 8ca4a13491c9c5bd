package buildlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
)

func TestChunkerReassembles(t *testing.T) {
	ctx := context.Background()
	c, pub, js, subj := newTestLog(t, ctx)

	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(rand.IntN(256))
	}
	w := c.Writer(buildlog.StreamStdout)
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(70<<10)) // some writes larger than a chunk
		if k, err := w.Write(rest[:n]); err != nil || k != n {
			t.Fatalf("write %d bytes: wrote %d, %v", n, k, err)
		}
		rest = rest[n:]
	}
	// Line counts the lines as a reader of the whole log numbers them.
	if got, want := c.Line(), bytes.Count(want, []byte("\n"))+1; got != want {
		t.Errorf("Line() = %d after %d newlines, want %d", got, want-1, want)
	}
	chunks, end := endAndRead(t, c, pub, js, subj, 10*time.Second)
	if end == nil {
		t.Fatalf("no end marker after %d chunks", len(chunks))
	}
	got := buildlogtest.Sequence(t, chunks)
	if !bytes.Equal(got, want) {
		t.Fatalf("reassembled %d bytes differ from the %d written", len(got), len(want))
	}
	h := sha256.Sum256(want)
	if end.SHA256 != hex.EncodeToString(h[:]) || end.Bytes != uint64(len(want)) || end.Chunks != uint64(len(chunks)) {
		t.Errorf("end marker %+v does not match the log (%d chunks)", end, len(chunks))
	}
	if len(chunks) < len(want)/buildlog.MaxChunkBytes {
		t.Errorf("%d chunks for %d bytes: more than MaxChunkBytes each?", len(chunks), len(want))
	}
}

// A few bytes and then silence still reach readers, after about ChunkDelay.
func TestChunkerFlushesAfterDelay(t *testing.T) {
	c, _, js, subj := newTestLog(t, context.Background())
	sub, err := js.Conn().SubscribeSync(subj)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Writer(buildlog.StreamStderr).Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(time.Second)
	if err != nil {
		t.Fatalf("3 bytes not flushed within 1s: %v", err)
	}
	took := time.Since(start)
	if string(m.Data) != "abc" || m.Header.Get(buildlog.HdrStream) != buildlog.StreamStderr {
		t.Errorf("got %q on %s", m.Data, m.Header.Get(buildlog.HdrStream))
	}
	if took < buildlog.ChunkDelay-5*time.Millisecond || took > buildlog.ChunkDelay+100*time.Millisecond {
		t.Errorf("flushed after %s, want about %s", took, buildlog.ChunkDelay)
	}
}

// Writers of different streams writing at once share one sequence, and
// each stream's chunks reassemble into exactly what that stream wrote.
func TestChunkerConcurrentStreams(t *testing.T) {
	c, pub, js, subj := newTestLog(t, context.Background())
	names := []string{buildlog.StreamStdout, buildlog.StreamStderr, buildlog.StreamSystem}
	wrote := map[string]*bytes.Buffer{}
	var wg sync.WaitGroup
	for _, name := range names {
		wrote[name] = &bytes.Buffer{}
	}
	for _, name := range names {
		buf := wrote[name]
		wg.Go(func() {
			w := c.Writer(name)
			for i := range 2000 {
				line := fmt.Appendf(nil, "%s line %d %s\n", name, i, bytes.Repeat([]byte{'.'}, rand.IntN(200)))
				buf.Write(line)
				if _, err := w.Write(line); err != nil {
					t.Error(err)
					return
				}
				if i%300 == 0 {
					time.Sleep(buildlog.ChunkDelay + 10*time.Millisecond) // let the timer flush too
				}
			}
		})
	}
	wg.Wait()
	chunks, end := endAndRead(t, c, pub, js, subj, 10*time.Second)
	if end == nil {
		t.Fatal("no end marker")
	}
	all := buildlogtest.Sequence(t, chunks)
	got := map[string]*bytes.Buffer{}
	for _, ch := range chunks {
		if got[ch.Stream] == nil {
			got[ch.Stream] = &bytes.Buffer{}
		}
		got[ch.Stream].Write(ch.Data)
	}
	for _, name := range names {
		if !bytes.Equal(got[name].Bytes(), wrote[name].Bytes()) {
			t.Errorf("stream %s: %d bytes read back, %d written", name, got[name].Len(), wrote[name].Len())
		}
	}
	h := sha256.Sum256(all)
	if end.SHA256 != hex.EncodeToString(h[:]) {
		t.Error("end marker hash differs from the log's")
	}
}

// After end, writes fail instead of vanishing.
func TestChunkerEnded(t *testing.T) {
	c := buildlog.NewChunker(sinkFunc(func(buildlog.Chunk) error { return nil }), 16, time.Hour)
	c.Writer(buildlog.StreamStdout).Write([]byte("0123456789abcdefXYZ"))
	sum, err := c.End()
	if err != nil || sum.Chunks != 2 || sum.Bytes != 19 {
		t.Fatalf("end = %+v, %v; want 2 chunks, 19 bytes", sum, err)
	}
	if _, err := c.Writer(buildlog.StreamStdout).Write([]byte("x")); err == nil {
		t.Error("write after end succeeded")
	}
}

type sinkFunc func(buildlog.Chunk) error

func (f sinkFunc) WriteChunk(c buildlog.Chunk) error { return f(c) }

// collect is a sink keeping the log's bytes in order.
type collect struct {
	mu  sync.Mutex
	log bytes.Buffer
}

func (c *collect) WriteChunk(ch buildlog.Chunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log.Write(ch.Data)
	return nil
}

func (c *collect) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// A pipe's write that comes while the other pipe is in the middle of a
// line waits for that line to end, so each line of the log is one pipe's.
func TestChunkerKeepsLinesWhole(t *testing.T) {
	var sink collect
	// A long delay: the wait for a line's end is bounded by it, and no
	// scheduling hiccup of a loaded machine comes near it.
	c := buildlog.NewChunker(&sink, 512, 5*time.Second)
	want := map[string]bool{}
	var wg sync.WaitGroup
	for _, name := range []string{buildlog.StreamStdout, buildlog.StreamStderr} {
		lines := make([]string, 300)
		for i := range lines {
			lines[i] = fmt.Sprintf("%s line %d %s", name, i, bytes.Repeat([]byte{'.'}, rand.IntN(100)))
			want[lines[i]] = true
		}
		wg.Go(func() {
			w := c.Writer(name)
			for _, l := range lines {
				cut := 1 + rand.IntN(len(l)-1)
				for _, part := range []string{l[:cut], l[cut:] + "\n"} {
					if _, err := w.Write([]byte(part)); err != nil {
						t.Error(err)
						return
					}
					if rand.IntN(10) == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			}
		})
	}
	wg.Wait()
	if _, err := c.End(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(sink.String(), "\n"), "\n")
	for i, l := range got {
		if !want[l] {
			t.Fatalf("line %d of the log is no line a pipe wrote: %q", i+1, l)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d lines in the log, %d written", len(got), len(want))
	}
}

// The test harness's line in progress on stdout keeps cargo's line on
// stderr waiting until it ends; a line that never ends holds the other
// pipe for the chunker's delay, no longer; the builder's lines never wait.
func TestChunkerLineWait(t *testing.T) {
	const delay = 200 * time.Millisecond
	tests := []struct {
		name      string
		writes    []string // "stream:text"; a "+" before one writes it from another goroutine, which the next write follows by 50ms
		want      string
		minWaited time.Duration // by the write from another goroutine
	}{
		{"line ends", []string{"stdout:test a ... ", "+stderr:     Running doc-tests\n", "stdout:ok\n"},
			"test a ... ok\n     Running doc-tests\n", 40 * time.Millisecond},
		{"line never ends", []string{"stdout:test a ... ", "+stderr:error: killed\n"},
			"test a ... error: killed\n", delay - 10*time.Millisecond},
		{"same pipe", []string{"stdout:test a ... ", "+stdout:ok\n"}, "test a ... ok\n", 0},
		{"builder", []string{"stdout:test a ... ", "+system:[ejecta] killed\n", "stdout:ok\n"},
			"test a ... [ejecta] killed\nok\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink collect
			c := buildlog.NewChunker(&sink, 512, delay)
			var waited time.Duration
			done := make(chan struct{})
			for _, wr := range tt.writes {
				other := strings.HasPrefix(wr, "+")
				stream, text, _ := strings.Cut(strings.TrimPrefix(wr, "+"), ":")
				if !other {
					if _, err := c.Writer(stream).Write([]byte(text)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				go func() {
					defer close(done)
					start := time.Now()
					if _, err := c.Writer(stream).Write([]byte(text)); err != nil {
						t.Error(err)
					}
					waited = time.Since(start)
				}()
				time.Sleep(50 * time.Millisecond)
			}
			<-done
			if _, err := c.End(); err != nil {
				t.Fatal(err)
			}
			if got := sink.String(); got != tt.want {
				t.Errorf("log %q, want %q", got, tt.want)
			}
			if waited < tt.minWaited || waited > delay+time.Second {
				t.Errorf("the other goroutine's write waited %s, want at least %s and about %s at most", waited, tt.minWaited, delay)
			}
		})
	}
}
