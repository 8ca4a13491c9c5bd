package buildlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
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

// A line written in pieces on one pipe stays whole when the other pipe
// writes a line between the pieces; the builder's own lines never wait,
// and a line never finished goes out after ChunkDelay. Each stream's bytes
// are still exactly what it wrote.
func TestChunkerKeepsLinesWhole(t *testing.T) {
	type write struct {
		stream, text string
		pause        time.Duration // before the write
	}
	o := func(s string) write { return write{buildlog.StreamStdout, s, 0} }
	e := func(s string) write { return write{buildlog.StreamStderr, s, 0} }
	sys := func(s string) write { return write{buildlog.StreamSystem, s, 0} }
	for _, tt := range []struct {
		name   string
		writes []write
		want   string
	}{
		{"the test harness's summary around cargo's line",
			[]write{o("test result: ok"), e("   Doc-tests crate\n"), o(". 2 passed; 0 failed\n")},
			"   Doc-tests crate\ntest result: ok. 2 passed; 0 failed\n"},
		{"both pipes in pieces",
			[]write{o("out 1 "), e("err 1 "), o("done\n"), e("done\n")},
			"out 1 done\nerr 1 done\n"},
		{"pieces without a line between them are not reordered",
			[]write{e("EEEEE"), o("ooo"), e("ee")},
			"EEEEEoooee"},
		{"the builder's line lets the step's output go first",
			[]write{o("unfinished"), e("err\n"), sys("[ejecta] $ next step\n"), o(" later\n")},
			"err\nunfinished[ejecta] $ next step\n later\n"},
		{"a prompt never finished goes out after the delay",
			[]write{o("password: "), e("err\n"), {buildlog.StreamStderr, "more\n", 3 * buildlog.ChunkDelay}},
			"err\npassword: more\n"},
		{"held until the end",
			[]write{o("no newline"), e("err\n")},
			"err\nno newline"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var chunks []buildlog.Chunk
			c := buildlog.NewChunker(sinkFunc(func(ch buildlog.Chunk) error {
				mu.Lock()
				defer mu.Unlock()
				chunks = append(chunks, ch)
				return nil
			}), buildlog.MaxChunkBytes, buildlog.ChunkDelay)
			wrote := map[string]string{}
			for _, w := range tt.writes {
				time.Sleep(w.pause)
				if n, err := c.Writer(w.stream).Write([]byte(w.text)); err != nil || n != len(w.text) {
					t.Fatalf("write %q: %d, %v", w.text, n, err)
				}
				wrote[w.stream] += w.text
			}
			sum, err := c.End()
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			got := map[string]string{}
			for i, ch := range chunks {
				if ch.Seq != uint64(i+1) || ch.Offset != uint64(all.Len()) {
					t.Errorf("chunk %d: seq %d, offset %d; want %d, %d", i, ch.Seq, ch.Offset, i+1, all.Len())
				}
				all.Write(ch.Data)
				got[ch.Stream] += string(ch.Data)
			}
			if all.String() != tt.want {
				t.Errorf("log %q, want %q", all.String(), tt.want)
			}
			if !maps.Equal(got, wrote) {
				t.Errorf("by stream %q, written %q", got, wrote)
			}
			if sum.Bytes != uint64(len(tt.want)) || sum.Chunks != uint64(len(chunks)) {
				t.Errorf("summary %+v for %d chunks of %d bytes", sum, len(chunks), len(tt.want))
			}
			if line, want := c.Line(), strings.Count(tt.want, "\n")+1; line != want {
				t.Errorf("Line() = %d, want %d", line, want)
			}
		})
	}
}
