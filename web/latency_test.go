package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/web"
)

// TestSSELatency measures bytes published on the stream → the line
// delivered to an HTTP client over SSE, and prints p50 and p99; the goal
// (p99 within 100 ms) is judged by `make bench` (row "tail").
func TestSSELatency(t *testing.T) {
	e := start(t, web.Config{})
	log := buildlogtest.NewLog(t, e.js, build, 1)
	log.Write("line 0\n")
	ch := readEvents(t, e.url+logPath+"/events", "")
	next(t, ch, true)

	const n = 200
	lat := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		sent := time.Now()
		log.Write(fmt.Sprintf("line %d\n", i))
		ev := next(t, ch, true)
		got := time.Since(sent)
		var l lines
		if err := json.Unmarshal([]byte(ev.Data), &l); err != nil || len(l.HTML) != 1 || !strings.Contains(l.HTML[0], fmt.Sprintf("line %d", i)) {
			t.Fatalf("event %+v, want line %d", ev, i)
		}
		lat = append(lat, got)
	}
	p50, p99 := measure.Median(lat), measure.Quantile(lat, 0.99)
	t.Logf("live log latency, published → delivered over SSE: p50 %s, p99 %s (n=%d)", p50, p99, n)
	fmt.Printf("live log latency (stream → SSE client): p50=%s p99=%s\n", p50, p99)
	if p99 > time.Second {
		t.Errorf("p99 %s: live lines should arrive well under a second", p99)
	}
}
