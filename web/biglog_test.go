package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// A big log has bigLines lines of lineBytes bytes each: 100 MiB.
const (
	lineBytes = 100
	bigLines  = 1 << 20
	bigBytes  = lineBytes * bigLines
)

// bigLine is line n (from 1) of the big log: markup a browser must show as
// text, a colour, and padding to lineBytes.
func bigLine(n int) string {
	s := fmt.Sprintf("line %08d <script>alert(1)</script> \x1b[32mok\x1b[0m ", n)
	return s + strings.Repeat(".", lineBytes-1-len(s)) + "\n"
}

// bigLog generates a log of lines lines of the big log's kind as it is
// read, never all in memory.
type bigLog struct {
	lines int
	n     int
	buf   []byte
}

func (b *bigLog) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(b.buf) == 0 {
			if b.n == b.lines {
				break
			}
			b.n++
			b.buf = append(b.buf[:0], bigLine(b.n)...)
		}
		c := copy(p[n:], b.buf)
		b.buf = b.buf[c:]
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// storeBigLog stores the big log of attempt 1 of build, with the metadata
// an uploader writes beside it.
func storeBigLog(t *testing.T, e env) {
	t.Helper()
	ctx := context.Background()
	if err := e.st.Put(ctx, logtail.StoredKey(build, 1), &bigLog{lines: bigLines}, bigBytes, "text/plain"); err != nil {
		t.Fatal(err)
	}
	meta := streams.LogMeta{V: streams.LogMetaVersion, BuildKey: build, Attempt: 1, Status: streams.StatusBuildFail,
		Bytes: bigBytes, Lines: bigLines, FirstAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
		LastAt: time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)}
	data, _ := json.Marshal(meta)
	key := streams.ExperimentPrefix(build.Experiment) + streams.LogMetaKey(build, 1)
	if err := e.st.Put(ctx, key, strings.NewReader(string(data)), int64(len(data)), "application/json"); err != nil {
		t.Fatal(err)
	}
}

type rangeReply struct {
	First    int      `json:"first"`
	Offset   uint64   `json:"offset"`
	End      uint64   `json:"end"`
	HTML     []string `json:"html"`
	Times    []string `json:"times"`
	Size     uint64   `json:"size"`
	Complete bool     `json:"complete"`
	Partial  bool     `json:"partial"`
}

func getRange(t *testing.T, url string) (rangeReply, int) {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var r rangeReply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r, len(body)
}

// wantLines checks that r holds lines first.. of the big log, escaped.
func wantLines(t *testing.T, r rangeReply, first, n int) {
	t.Helper()
	if r.First != first || len(r.HTML) != n {
		t.Fatalf("range has lines %d..%d, want %d..%d", r.First, r.First+len(r.HTML)-1, first, first+n-1)
	}
	for i, h := range r.HTML {
		if !strings.HasPrefix(h, fmt.Sprintf("line %08d &lt;script&gt;alert(1)&lt;&#47;script&gt; <span class=\"term-fg32\">ok</span>", first+i)) {
			t.Fatalf("line %d renders as %q", first+i, h)
		}
	}
}

// TestBigStoredLog: the log page of a 100 MiB stored log loads a bounded
// amount (the page, the head, the tail), and "load more" ranges return the
// right lines at the right offsets, escaped.
func TestBigStoredLog(t *testing.T) {
	e := start(t, web.Config{})
	t0 := time.Now()
	storeBigLog(t, e)
	t.Logf("stored in %s", time.Since(t0))
	const mib = 1 << 20

	resp, body := get(t, e.url+logPath)
	if resp.StatusCode != 200 || len(body) > 16<<10 {
		t.Fatalf("log page: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, w := range []string{`data-range="` + logPath + `/range"`, "Stored log, 104857600 bytes, 1048576 lines",
		"written from 2026-05-01 12:00:00.000 to 12:30:00.000 UTC"} {
		if !strings.Contains(body, w) {
			t.Errorf("log page lacks %q:\n%s", w, body)
		}
	}

	// The head: 1 MiB cut after its last whole line.
	t0 = time.Now()
	head, n := getRange(t, e.url+logPath+"/range?offset=0")
	t.Logf("head in %s", time.Since(t0))
	wantLines(t, head, 1, mib/lineBytes)
	if head.Offset != 0 || head.End != mib/lineBytes*lineBytes || head.Size != bigBytes || !head.Complete || head.Partial || n > 4*mib {
		t.Fatalf("head: offset %d end %d size %d complete %v partial %v, %d bytes", head.Offset, head.End, head.Size, head.Complete, head.Partial, n)
	}
	if len(head.Times) != 0 {
		t.Errorf("a stored log has no per-line times, got %d", len(head.Times))
	}

	for _, tc := range []struct {
		name      string
		query     string
		first, n  int
		offset    uint64
		end       uint64
		complete  bool
		rawPrefix string // for a range starting inside a line
	}{
		{"load more after the head, line known", fmt.Sprintf("offset=%d&line=%d&limit=1000", head.End, head.First+len(head.HTML)), 10486, 10, head.End, head.End + 1000, true, ""},
		{"the middle, lines counted", "offset=50000000&limit=250", 500001, 2, 50000000, 50000200, true, ""},
		{"the last line", fmt.Sprintf("offset=%d", bigBytes-lineBytes), bigLines, 1, bigBytes - lineBytes, bigBytes, true, ""},
		{"inside a line", "offset=120&limit=100", 2, 1, 120, 200, true, "&lt;&#47;script&gt;"},
		{"at the end", fmt.Sprintf("offset=%d", bigBytes), bigLines + 1, 0, bigBytes, bigBytes, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := getRange(t, e.url+logPath+"/range?"+tc.query)
			if r.Offset != tc.offset || r.End != tc.end || r.Complete != tc.complete {
				t.Fatalf("range %d..%d complete %v, want %d..%d %v", r.Offset, r.End, r.Complete, tc.offset, tc.end, tc.complete)
			}
			if tc.rawPrefix != "" {
				if r.First != tc.first || len(r.HTML) != 1 || !strings.Contains(r.HTML[0], tc.rawPrefix) || strings.Contains(r.HTML[0], "line 0") {
					t.Fatalf("range inside line 2: %+v", r)
				}
				return
			}
			wantLines(t, r, tc.first, tc.n)
		})
	}

	// The tail over SSE: lines from the first one starting in the last MiB,
	// numbered from the lines before it, then the end.
	ch := readEvents(t, e.url+logPath+fmt.Sprintf("/events?from=%d&tail=%d", head.End, mib), "")
	var got, sent int
	firstLine := 0
	for {
		ev := next(t, ch, true)
		sent += len(ev.Data)
		if ev.Event == "end" {
			break
		}
		l := decodeLines(t, ev)
		if firstLine == 0 {
			firstLine = l.First
			if want := (bigBytes-mib)/lineBytes + 2; l.First != want || l.Offset != uint64(want-1)*lineBytes {
				t.Fatalf("tail starts at line %d offset %d, want line %d", l.First, l.Offset, want)
			}
		}
		if l.First != firstLine+got {
			t.Fatalf("lines event from %d after %d lines from %d", l.First, got, firstLine)
		}
		got += len(l.HTML)
	}
	if firstLine+got-1 != bigLines || sent > 4*mib {
		t.Fatalf("tail: lines %d..%d, %d bytes of events", firstLine, firstLine+got-1, sent)
	}
}

func TestLogRangeBadParameters(t *testing.T) {
	e := start(t, web.Config{})
	l := buildlogtest.NewLog(t, e.js, build, 1)
	l.Write("one\ntwo\n")
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"/range", 400, "offset: missing"},
		{"/range?offset=abc", 400, `offset "abc": want a byte offset`},
		{"/range?offset=-1", 400, `offset "-1"`},
		{"/range?offset=9", 400, "offset 9: past the end of the log (8 bytes)"},
		{"/range?offset=0&limit=0", 400, "limit 0: want 1 to 4194304 bytes"},
		{"/range?offset=0&limit=99999999", 400, "limit 99999999"},
		{"/range?offset=0&limit=x", 400, `limit "x"`},
		{"/range?offset=0&line=0", 400, `line "0": want a line number from 1`},
		{"/events?from=x", 400, `from "x"`},
		{"/events?tail=-5", 400, `tail "-5"`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := get(t, e.url+logPath+tc.query)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.want)
			}
		})
	}
	if resp, body := get(t, e.url+"/logs/e1/cfg-if/1.0.0/nightly/2/range?offset=0"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("range of a missing log: %d %s", resp.StatusCode, body)
	}
}

// TestLiveLogRangeAndTimes: a range of a live log carries each line's time,
// that of the chunk holding its first byte, and leaves out a line the build
// has not finished; the SSE stream carries the same times.
func TestLiveLogRangeAndTimes(t *testing.T) {
	e := start(t, web.Config{})
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := buildlogtest.NewLog(t, e.js, build, 1)
	l.WriteAt("one\ntw", t0)
	l.WriteAt("o\nthree\npart", t0.Add(time.Second))

	r, _ := getRange(t, e.url+logPath+"/range?offset=0")
	want := []string{"2026-05-01T12:00:00Z", "2026-05-01T12:00:00Z", "2026-05-01T12:00:01Z"}
	if strings.Join(r.HTML, "|") != "one|two|three" || strings.Join(r.Times, "|") != strings.Join(want, "|") {
		t.Fatalf("range %q times %q, want one|two|three at %q", r.HTML, r.Times, want)
	}
	if r.End != 14 || r.Size != 18 || r.Complete || r.Partial {
		t.Fatalf("range end %d size %d complete %v partial %v", r.End, r.Size, r.Complete, r.Partial)
	}

	ch := readEvents(t, e.url+logPath+"/events?from=4", "")
	ev := decodeLines(t, next(t, ch, true))
	if ev.First != 2 || ev.HTML[0] != "two" {
		t.Fatalf("events from offset 4: %+v", ev)
	}
	l.WriteAt("ial\nfive\n", t0.Add(2*time.Second))
	for ev.First+len(ev.HTML)-1 < 5 {
		ev = decodeLines(t, next(t, ch, true))
	}
	n := len(ev.HTML)
	got := strings.Join(ev.HTML[n-2:], "|") + " at " + strings.Join(ev.Times[n-2:], "|")
	if want := "partial|five at 2026-05-01T12:00:01Z|2026-05-01T12:00:02Z"; got != want {
		t.Fatalf("live lines %s, want %s", got, want)
	}
}
