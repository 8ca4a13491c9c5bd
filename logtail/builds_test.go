package logtail_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
)

func publish(t *testing.T, js jetstream.JetStream, subj string, v any) {
	t.Helper()
	data, _ := json.Marshal(v)
	if _, err := js.Publish(context.Background(), subj, data); err != nil {
		t.Fatal(err)
	}
}

func TestAttemptsAndResolve(t *testing.T) {
	js, _ := setup(t)
	key := func(crate, version, tc string) streams.BuildKey {
		return streams.BuildKey{Experiment: "e1", Crate: crate, Version: version, Toolchain: tc}
	}
	// itoa: stable done (attempt 1 and a retry 2), nightly running attempt 1.
	publish(t, js, streams.ResultSubject(key("itoa", "1.0.1", "stable"), 1, streams.AnonymousSender), map[string]int{"v": 1})
	publish(t, js, streams.ResultSubject(key("itoa", "1.0.1", "stable"), 2, streams.AnonymousSender), map[string]int{"v": 1})
	publish(t, js, streams.JobSubject(key("itoa", "1.0.1", "nightly")), map[string]int{"v": 1})
	buildlogtest.NewLog(t, js, key("itoa", "1.0.1", "nightly"), 1).Write("building\n")
	// either: queued on both toolchains, two versions.
	publish(t, js, streams.JobSubject(key("either", "1.9.0", "stable")), map[string]int{"v": 1})
	publish(t, js, streams.JobSubject(key("either", "1.9.0", "nightly")), map[string]int{"v": 1})
	publish(t, js, streams.JobSubject(key("either", "1.8.0", "stable")), map[string]int{"v": 1})
	// Another experiment is not listed.
	publish(t, js, streams.JobSubject(streams.BuildKey{Experiment: "e2", Crate: "itoa", Version: "1.0.1", Toolchain: "beta"}), map[string]int{"v": 1})

	atts, err := logtail.Attempts(context.Background(), js, "e1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range atts {
		got = append(got, a.Crate+"@"+a.Version+"/"+a.Toolchain+"#"+string(rune('0'+a.Attempt))+
			map[bool]string{true: " live", false: ""}[a.Live]+map[bool]string{true: " result", false: ""}[a.Result])
	}
	want := []string{"either@1.8.0/stable#0", "either@1.9.0/nightly#0", "either@1.9.0/stable#0",
		"itoa@1.0.1/nightly#1 live", "itoa@1.0.1/stable#1 result", "itoa@1.0.1/stable#2 result"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("attempts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct {
		name    string
		q       logtail.Query
		want    string // build and attempt, or an error fragment
		wantErr bool
	}{
		{"the live toolchain when none is named", logtail.Query{Crate: "itoa"}, "e1/itoa@1.0.1/nightly#1", false},
		{"the latest attempt", logtail.Query{Crate: "itoa", Toolchain: "stable"}, "e1/itoa@1.0.1/stable#2", false},
		{"an attempt asked for", logtail.Query{Crate: "itoa", Toolchain: "stable", Attempt: 1}, "e1/itoa@1.0.1/stable#1", false},
		{"a queued job's first attempt", logtail.Query{Crate: "either", Version: "1.8.0"}, "e1/either@1.8.0/stable#1", false},
		{"several versions", logtail.Query{Crate: "either"}, "write CRATE@VERSION (accepted: 1.8.0, 1.9.0)", true},
		{"several toolchains, none live", logtail.Query{Crate: "either", Version: "1.9.0"}, "add --toolchain (accepted: nightly, stable)", true},
		{"unknown crate", logtail.Query{Crate: "serde"}, "crate serde: no queued job, live log or result in experiment e1", true},
		{"unknown toolchain", logtail.Query{Crate: "itoa", Toolchain: "beta"}, "crate itoa on beta: no queued job", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, n, err := logtail.Resolve("e1", atts, tc.q)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil || k.String()+"#"+string(rune('0'+n)) != tc.want {
				t.Fatalf("resolved %s#%d (%v), want %s", k, n, err, tc.want)
			}
		})
	}
}
