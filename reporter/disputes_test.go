package reporter

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promserve "github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// Results of one build from two builder users that disagree on the verdict
// are taken from neither; anything else follows the highest attempt.
func TestDisputedBuilds(t *testing.T) {
	const a, b, anon = "builder-host-a", "builder-host-b", streams.AnonymousSender
	type sent struct {
		sender  string
		attempt int
		status  streams.Status
	}
	retried := streams.AttemptBase(1, 0) + 1
	for _, c := range []struct {
		name       string
		nightly    []sent
		wantStatus streams.Status
		wantReason streams.Reason
		wantClass  results.Class
		disputes   int
	}{
		{"one builder, a later attempt replaces", []sent{{a, 1, streams.StatusBuildFail}, {a, 2, streams.StatusTestPass}},
			streams.StatusTestPass, "", results.ClassSameTestPass, 0},
		{"an error of the farm, then another builder", []sent{{a, 1, streams.StatusError}, {b, 2, streams.StatusBuildFail}},
			streams.StatusBuildFail, "", results.ClassRegressed, 0},
		{"two builders agree", []sent{{a, 1, streams.StatusTestPass}, {b, 2, streams.StatusTestPass}},
			streams.StatusTestPass, "", results.ClassSameTestPass, 0},
		{"a higher attempt from another builder disagrees", []sent{{a, 2, streams.StatusTestPass}, {b, 9, streams.StatusBuildFail}},
			streams.StatusError, streams.ReasonDisputed, results.ClassError, 1},
		{"the disagreeing result comes first", []sent{{b, 9, streams.StatusBuildFail}, {a, 2, streams.StatusTestPass}},
			streams.StatusError, streams.ReasonDisputed, results.ClassError, 1},
		{"nothing counts after a dispute", []sent{{a, 2, streams.StatusTestPass}, {b, 9, streams.StatusBuildFail}, {a, 10, streams.StatusTestPass}, {b, 11, streams.StatusTestFail}},
			streams.StatusError, streams.ReasonDisputed, results.ClassError, 1},
		{"the first verdict is remembered past an error", []sent{{a, 1, streams.StatusTestPass}, {b, 2, streams.StatusError}, {b, 3, streams.StatusBuildFail}},
			streams.StatusError, streams.ReasonDisputed, results.ClassError, 1},
		{"builders without users of their own are not told apart", []sent{{anon, 1, streams.StatusTestPass}, {anon, 2, streams.StatusBuildFail}},
			streams.StatusBuildFail, "", results.ClassRegressed, 0},
		{"a retry builds a disputed crate again", []sent{{a, 1, streams.StatusTestPass}, {b, 5, streams.StatusBuildFail}, {b, retried, streams.StatusTestPass}},
			streams.StatusTestPass, "", results.ClassSameTestPass, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newExperiment("exp", 0)
			e.setRecord(testRecord())
			disputes := 0
			e.onDispute = func(held *kept, came *streams.Result) {
				disputes++
				if held.Sender == came.Sender {
					t.Errorf("dispute between results of one sender %s", held.Sender)
				}
			}
			base := res("a", "stable", 1, streams.StatusTestPass)
			base.Sender = a
			var last *streams.Result
			for _, s := range c.nightly {
				r := res("a", "nightly", s.attempt, s.status)
				r.Sender = s.sender
				if s.status == streams.StatusBuildFail {
					r.FirstError = &streams.FirstError{Code: "E0308", Message: "mismatched types"}
				}
				if s.attempt >= retried {
					last = r
				}
				e.apply(r, nil)
			}
			if last != nil {
				// The retry's other side.
				r := res("a", "stable", retried, streams.StatusTestPass)
				r.Sender = a
				base = r
			}
			e.apply(base, nil)
			cs := e.crates[crateKey{"a", "1.0.0"}]
			got := cs.runs[1]
			if got.Status != c.wantStatus || got.Reason != c.wantReason {
				t.Errorf("nightly holds %s (%s), want %s (%s)", got.Status, got.Reason, c.wantStatus, c.wantReason)
			}
			if got.Reason == streams.ReasonDisputed && got.FirstError != nil {
				t.Errorf("the disputed build shows one builder's first error %+v", got.FirstError)
			}
			if cs.v.Class != c.wantClass {
				t.Errorf("class %s, want %s", cs.v.Class, c.wantClass)
			}
			if disputes != c.disputes {
				t.Errorf("%d disputes told, want %d", disputes, c.disputes)
			}
			if e.done != 2 || e.statuses[c.wantStatus] != 1+boolInt(c.wantStatus == streams.StatusTestPass) {
				t.Errorf("done %d, statuses %v: the disputed build counts once, as what it holds", e.done, e.statuses)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Through the results stream: two builder users sign results of one build
// with its ticket and disagree, and the report shows the build as an error
// of the farm, not as either's verdict; a result on a subject that names
// no valid sender is refused.
func TestDisputedBuildReported(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	e.putRecord(streams.Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, CrateSource: "/src", Selection: "list",
		Crates: 2, Jobs: 4, Published: 4, CreatedAt: time.Now().UTC(), Tickets: true})
	from := func(sender string, r streams.Result) streams.Result {
		r.Sender = sender
		r.Sign(key.Ticket(r.BuildKey, 0))
		return r
	}
	const a, b = "builder-host-a", "builder-host-b"
	e.publish(from(a, result("tix", "alpha", "1.0.0", "stable", 1, streams.StatusTestPass, "")))
	e.publish(from(a, result("tix", "alpha", "1.0.0", "nightly", 1, streams.StatusTestPass, "")))
	// Another builder that fetched the job once signs a later attempt.
	e.publish(from(b, result("tix", "alpha", "1.0.0", "nightly", 7, streams.StatusBuildFail, "compiler-error(E0308)")))
	// Two builders of one crate that agree: the later attempt counts.
	e.publish(from(a, result("tix", "beta", "1.0.0", "stable", 1, streams.StatusTestPass, "")))
	e.publish(from(a, result("tix", "beta", "1.0.0", "nightly", 1, streams.StatusError, "sandbox-error")))
	e.publish(from(b, result("tix", "beta", "1.0.0", "nightly", 2, streams.StatusTestFail, "")))
	bad := from(a, result("tix", "beta", "1.0.0", "nightly", 3, streams.StatusTestPass, ""))
	data, err := json.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	e.publishRaw(streams.ResultSubject(bad.BuildKey, bad.Attempt, "mallory"), data, "mallory")
	reg := promserve.NewRegistry()
	e.startReporterWith(Config{Debounce: testDebounce, JobKey: key, Metrics: reg})
	srv := httptest.NewServer(promserve.Handler(reg))
	defer srv.Close()

	f := e.waitResults("tix", 4)
	alpha := crateByName(t, f, "alpha")
	if alpha.Class != results.ClassError || alpha.Results[1].Status != streams.StatusError || alpha.Results[1].Reason != streams.ReasonDisputed {
		t.Errorf("alpha: class %q, results %+v; want an error, disputed", alpha.Class, alpha.Results)
	}
	if beta := crateByName(t, f, "beta"); beta.Class != results.ClassRegressed || beta.Results[1].Attempt != 2 {
		t.Errorf("beta: class %q, results %+v; want the regression of attempt 2", beta.Class, beta.Results)
	}
	if reasons := e.deadReasons(1); !strings.Contains(reasons[0], "SENDER") {
		t.Errorf("dead letter reason %q, want the subject a result belongs on", reasons[0])
	}
	if got := metricstest.Scrape(t, srv.URL).Must(t, "ejecta_reporter_disputed_builds_total"); got != 1 {
		t.Errorf("ejecta_reporter_disputed_builds_total = %v, want 1", got)
	}
}
