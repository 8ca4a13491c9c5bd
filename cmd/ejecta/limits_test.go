package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// `experiment create --memory --timeout --no-output-timeout` puts the
// limits on every job; bad values are refused naming the flag or field.
func TestExperimentCreateLimits(t *testing.T) {
	srv := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	base := []string{"--nats", srv.URL, "--log-level", "warn", "experiment", "create"}
	ok := []string{"--toolchains", "stable,nightly", "--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg}
	if _, err := run(t, append(append(base, "limited"), append(ok, "--memory", "512MiB", "--timeout", "20m", "--no-output-timeout", "1m", "--keep-logs", "30d")...)...); err != nil {
		t.Fatalf("create: %v", err)
	}
	_, js := srv.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rec, err := status.Record(ctx, js, "limited"); err != nil || rec.KeepLogs.D() != 30*24*time.Hour {
		t.Errorf("record keep_logs %v (%v), want 30 days", rec.KeepLogs.D(), err)
	}
	s, err := js.Stream(ctx, streams.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	want := streams.Limits{MemoryBytes: 512 << 20, Timeout: streams.Duration(20 * time.Minute), NoOutputTimeout: streams.Duration(time.Minute)}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var j streams.Job
		if err := streams.Decode(m.Data, &j); err != nil || j.Limits != want {
			t.Errorf("job %d limits %+v (%v), want %+v", seq, j.Limits, err, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--memory", "1MiB"}, "memory_bytes"},
		{[]string{"--timeout", "1ms"}, "timeout"},
		{[]string{"--no-output-timeout", "soon"}, `invalid argument "soon" for "--no-output-timeout"`},
		{[]string{"--keep-logs", "a month"}, `--keep-logs: "a month": want a number of days`},
		{[]string{"--keep-logs", "1h"}, "--keep-logs: keep-logs 1h0m0s: want 0 (the default) or from 24h0m0s"},
	} {
		_, err := run(t, append(append(base, "bad-limits"), append(ok, tc.args...)...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
