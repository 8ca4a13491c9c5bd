package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// expandingLog is 4 MiB a crate wrote to expand when rendered: every byte
// its own colour, on lines of about 2000 bytes or on one line.
func expandingLog(newlines bool) []byte {
	var b bytes.Buffer
	for b.Len() < 4<<20-64 {
		b.WriteString("\x1b[1;3;4;9;31;42m<\x1b[0m>")
		if newlines && b.Len()%2000 < 20 {
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func storeLog(t *testing.T, e env, log []byte) {
	t.Helper()
	ctx := context.Background()
	if err := e.st.Put(ctx, logtail.StoredKey(build, 1), bytes.NewReader(log), int64(len(log)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	meta := streams.LogMeta{V: streams.LogMetaVersion, BuildKey: build, Attempt: 1, Status: streams.StatusBuildFail,
		Bytes: uint64(len(log)), Lines: uint64(bytes.Count(log, []byte{'\n'}))}
	data, _ := json.Marshal(meta)
	key := streams.ExperimentPrefix(build.Experiment) + streams.LogMetaKey(build, 1)
	if err := e.st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		t.Fatal(err)
	}
}

// A range of the largest size of a log written to expand is bounded in
// what it sends and allocates, and the ranges after it carry on where it
// stopped, to the end, line numbers and all. Before, 4 MiB of such a log
// became a 21 MiB reply, 431 MiB allocated (551 MiB on one line) and 0.85 s
// of CPU, per request; now about 2 MiB, 50-70 MiB and 0.1 s.
func TestRangeOfAnExpandingLog(t *testing.T) {
	for _, newlines := range []bool{true, false} {
		t.Run(fmt.Sprintf("newlines=%v", newlines), func(t *testing.T) {
			e := start(t, web.Config{})
			log := expandingLog(newlines)
			storeLog(t, e, log)
			url := e.url + logPath + "/range?offset=0&limit=" + fmt.Sprint(4<<20)
			getRange(t, url) // the store and the server warmed up

			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			first, n := getRange(t, url)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := (after.TotalAlloc - before.TotalAlloc) >> 20
			t.Logf("%d log bytes: reply %d KiB, %d MiB allocated, took %s", len(log), n>>10, alloc, took.Round(time.Millisecond))
			// The reply is about maxRangeHTML; what is allocated (this
			// client's reading of the reply included) a few times that.
			if n > 3<<20 || alloc > 100 {
				t.Errorf("VULNERABLE: one range of %d bytes of a log made a reply of %d KiB and allocated %d MiB", len(log), n>>10, alloc)
			}

			// The ranges after it take up where it ended, and reach the
			// end of the log with every line counted.
			r, next, requests := first, uint64(0), 1
			for {
				if r.Offset != next {
					t.Fatalf("range from %d, want %d", r.Offset, next)
				}
				if r.End >= uint64(len(log)) {
					break
				}
				if r.End <= next {
					t.Fatalf("range from %d ends at %d", next, r.End)
				}
				next = r.End
				line := r.First + len(r.HTML) - boolInt(r.Partial) // as the log page counts on
				r, _ = getRange(t, fmt.Sprintf("%s%s/range?offset=%d&line=%d&limit=%d", e.url, logPath, next, line, 4<<20))
				requests++
			}
			if want := bytes.Count(log, []byte{'\n'}); r.First+len(r.HTML)-1 != want {
				t.Errorf("the last range ends at line %d, want %d", r.First+len(r.HTML)-1, want)
			}
			t.Logf("%d ranges to the end", requests)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Ranges take the log streams' slots: past the caps, a range is refused
// with 429 and a Retry-After, as a stream is.
func TestRangeTakesAStreamSlot(t *testing.T) {
	e := start(t, web.Config{MaxStreams: 1})
	buildlogtest.NewLog(t, e.js, build, 1).Write("compiling\n")
	if s := openStream(t, http.DefaultClient, e.url, ""); s.status != http.StatusOK {
		t.Fatalf("stream: %d %s", s.status, s.body)
	}
	resp, body := get(t, e.url+logPath+"/range?offset=0")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "5" || !strings.Contains(body, "too many") {
		t.Errorf("range while the only slot is taken: %d, Retry-After %q, %q; want 429", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
