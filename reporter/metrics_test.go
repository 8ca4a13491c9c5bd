package reporter

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	promserve "github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// TestMetrics scrapes a reporter's /metrics: the class counts equal the
// stored report's, every valid result is counted once and a garbage one
// as refused, and a result arriving while the reporter runs is in a
// stored report within a few debounces.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("exp1", 4)
	rs := []streams.Result{
		result("exp1", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("exp1", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "compiler-error(E0308)"),
		result("exp1", "beta", "0.2.0", "stable", 1, streams.StatusBuildFail, "unknown"),
		result("exp1", "beta", "0.2.0", "nightly", 1, streams.StatusTestPass, ""),
		result("exp1", "gamma", "2.0.0", "stable", 1, streams.StatusTestPass, ""),
		result("exp1", "gamma", "2.0.0", "nightly", 1, streams.StatusTestPass, ""),
	}
	for _, r := range rs {
		e.publish(r)
	}
	e.publishRaw(streams.ResultSubject(rs[0].BuildKey, 7, streams.AnonymousSender), []byte("not json"), "garbage")
	reg := promserve.NewRegistry()
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1, Metrics: reg})
	srv := httptest.NewServer(promserve.Handler(reg))
	defer srv.Close()
	e.waitResults("exp1", 6)

	// A result while the reporter follows the stream: its lag is measured.
	late := result("exp1", "delta", "1.0.0", "stable", 1, streams.StatusTestPass, "")
	published := time.Now()
	e.publish(late)
	var fams metricstest.Families
	waitFor(t, "the report with 7 results in the metrics", func() bool {
		fams = metricstest.Scrape(t, srv.URL)
		done, _ := fams.Value("ejecta_reporter_builds_done", "experiment", "exp1")
		return done == 7
	})
	lagBound := time.Since(published).Seconds()
	f := e.readResults("exp1")
	for _, class := range results.Classes {
		if class == results.ClassPending {
			continue
		}
		got := fams.Must(t, "ejecta_reporter_crates", "experiment", "exp1", "class", string(class))
		if got != float64(f.Classes[class]) {
			t.Errorf("crates{class=%s} = %v, the report says %d", class, got, f.Classes[class])
		}
	}
	if f.Classes[results.ClassRegressed] != 1 || f.Classes[results.ClassFixed] != 1 || f.Classes[results.ClassSameTestPass] != 1 {
		t.Errorf("report classes %v, want 1 regressed, 1 fixed, 1 same-test-pass", f.Classes)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ejecta_reporter_results_ingested_total", nil, 7},
		{"ejecta_reporter_results_refused_total", nil, 1},
		{"ejecta_reporter_builds_total", []string{"experiment", "exp1"}, 8},
		{"ejecta_reporter_report_writes_total", []string{"outcome", "error"}, 0},
	} {
		if got := fams.Must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := fams.Must(t, "ejecta_reporter_report_lag_seconds"); n < 2 {
		t.Errorf("report lag observed %v times, want once for the replay and once for the late result", n)
	}
	if lag := fams.Must(t, "ejecta_reporter_last_report_lag_seconds"); lag <= 0 || lag > lagBound {
		t.Errorf("last report lag %vs, want more than 0 and at most the %vs the test waited for the report", lag, lagBound)
	}
}

// `experiment delete` removes the experiment's series from /metrics; the
// other experiments' stay.
func TestMetricsOfDeletedExperimentRemoved(t *testing.T) {
	e := newEnv(t)
	e.putExperiment("gone", 1)
	e.putExperiment("kept", 1)
	for _, exp := range []string{"gone", "kept"} {
		e.publish(result(exp, "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, ""))
		e.publish(result(exp, "alpha", "1.0.0", "nightly", 1, streams.StatusTestPass, ""))
	}
	reg := promserve.NewRegistry()
	e.startReporterWith(Config{Debounce: testDebounce, Confirmations: -1, Metrics: reg})
	srv := httptest.NewServer(promserve.Handler(reg))
	defer srv.Close()
	e.waitResults("gone", 2)
	e.waitResults("kept", 2)
	waitFor(t, "both experiments in the metrics", func() bool {
		fams := metricstest.Scrape(t, srv.URL)
		gone, _ := fams.Value("ejecta_reporter_builds_done", "experiment", "gone")
		kept, _ := fams.Value("ejecta_reporter_builds_done", "experiment", "kept")
		return gone == 2 && kept == 2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := producer.New(e.js, testLogger(t)).Delete(ctx, "gone", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted experiment's series gone", func() bool {
		fams := metricstest.Scrape(t, srv.URL)
		for _, name := range []string{"ejecta_reporter_builds_done", "ejecta_reporter_builds_total", "ejecta_reporter_crates"} {
			if _, ok := fams.Value(name, "experiment", "gone"); ok {
				return false
			}
		}
		return true
	})
	time.Sleep(5 * testDebounce) // a write in flight must not bring them back
	fams := metricstest.Scrape(t, srv.URL)
	if _, ok := fams.Value("ejecta_reporter_crates", "experiment", "gone"); ok {
		t.Error("ejecta_reporter_crates{experiment=gone} came back")
	}
	if v := fams.Must(t, "ejecta_reporter_crates", "experiment", "kept", "class", string(results.ClassSameTestPass)); v != 1 {
		t.Errorf("crates{kept, same-test-pass} = %v, want 1", v)
	}
	fams.Must(t, "ejecta_reporter_builds_total", "experiment", "kept")
}
