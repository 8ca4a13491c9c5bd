package reporter

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promserve "github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/streams"
)

func TestPendingBoundsAndDeadlines(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := func(n int) pendingResult { return pendingResult{subject: "s", data: make([]byte, n)} }
	q := newPending(4, 4*(1+pendingOverhead+1)) // four results of one byte
	for _, a := range []struct {
		exp string
		at  time.Duration
	}{{"b", 2}, {"a", 1}, {"b", 0}, {"c", 3}} {
		if err := q.add(a.exp, r(1), t0.Add(a.at*time.Second)); err != nil {
			t.Fatalf("add %s: %v", a.exp, err)
		}
	}
	if err := q.add("d", r(1), t0); !errors.Is(err, errNoRecord) {
		t.Errorf("a fifth result: %v, want refused (count)", err)
	}
	if next, _ := q.next(); !next.Equal(t0.Add(time.Second)) {
		t.Errorf("next deadline %s, want a's", next)
	}
	// b's second result keeps b's first deadline.
	got := q.expired(t0.Add(1500*time.Millisecond), 2)
	if len(got) != 1 || got[0].name != "a" || len(got[0].results) != 1 {
		t.Fatalf("expired, at most 2 results: %+v, want a's first (b's would be 3)", got)
	}
	if got = q.expired(t0.Add(2*time.Second), 1); len(got) != 1 || got[0].name != "b" || len(got[0].results) != 1 {
		t.Fatalf("expired, at most 1: %+v, want one of b's", got)
	}
	if w := q.take("b"); w == nil || len(w.results) != 1 {
		t.Fatalf("take b: %+v, want its other result", w)
	}
	if q.take("b") != nil || q.count != 1 {
		t.Errorf("after take: b %v, count %d", q.exps["b"], q.count)
	}
	if err := q.add("d", r(300), t0); !errors.Is(err, errNoRecord) {
		t.Errorf("a result over the byte bound: %v, want refused", err)
	}
	if got = q.expired(t0.Add(time.Hour), 100); len(got) != 1 || got[0].name != "c" || q.count != 0 || q.bytes != 0 || len(q.queue) != 0 {
		t.Errorf("all expired: %+v; left count %d bytes %d queue %d", got, q.count, q.bytes, len(q.queue))
	}
	if _, ok := q.next(); ok {
		t.Error("a deadline with nothing waiting")
	}
}

// A result whose experiment has no record waits for it for the grace, and
// is then refused; with a job key an unsigned one is refused as unsigned.
// One whose record comes within the grace counts. A restarted reporter
// refuses at once what is older than the grace, and what waits is bounded.
func TestResultsWithoutARecordAreRefused(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	const grace = 500 * time.Millisecond
	stop := e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1, JobKey: key, RecordGrace: grace,
		maxPending: 4})

	unsigned := result("ghost", "a", "1.0.0", "nightly", 1, streams.StatusTestPass, "")
	signed := result("ghost2", "a", "1.0.0", "nightly", 1, streams.StatusTestPass, "")
	signed.Sign(key.Ticket(signed.BuildKey, 0))
	e.publish(unsigned)
	e.publish(signed)
	// Results of an experiment from before tickets, whose record comes late.
	e.publish(result("late", "a", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
	e.publish(result("late", "a", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	time.Sleep(grace / 5)
	e.putExperiment("late", 1)
	e.waitResults("late", 2)
	reasons := e.deadReasons(2)
	if !strings.Contains(reasons[0], "no experiment record") || !strings.Contains(reasons[0], "no MAC") {
		t.Errorf("unsigned result of no experiment refused for %q, want no record hence no MAC", reasons[0])
	}
	if !strings.Contains(reasons[1], "no experiment record") || strings.Contains(reasons[1], "MAC") {
		t.Errorf("signed result of no experiment refused for %q, want no record", reasons[1])
	}

	// Past the bound, at once.
	for i := range 6 {
		e.publish(result(fmt.Sprintf("many-%d", i), "a", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	}
	r := e.deadReasons(4)
	for _, reason := range r[2:] {
		if !strings.Contains(reason, "wait already") {
			t.Errorf("result past the bound refused for %q", reason)
		}
	}
	e.deadReasons(8)
	stop()

	// Replayed, the results stored longer than the grace ago are refused
	// as they come, not held for another grace. Those refused as unsigned
	// (forgeries under the key: the ghost, many-0 to many-3) were deleted
	// from the stream then; the signed ghost2 and the two refused only for
	// the bound are refused again, now as unsigned.
	time.Sleep(3 * time.Second)
	reg := promserve.NewRegistry()
	start := time.Now()
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1, JobKey: key, RecordGrace: 3 * time.Second, Metrics: reg})
	srv2 := httptest.NewServer(promserve.Handler(reg))
	defer srv2.Close()
	waitFor(t, "the replay's refusals", func() bool {
		v, _ := metricstest.Scrape(t, srv2.URL).Value("ejecta_reporter_results_refused_total")
		return v == 3
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the replay refused the results without a record after %s, want them refused as they came", took)
	}
}
