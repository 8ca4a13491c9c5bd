package streams

import (
	"strings"
	"testing"
)

func TestBuildSubjectsRoundTrip(t *testing.T) {
	k := BuildKey{Experiment: "e1", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly-2026-01-01"}
	got, attempt, err := ParseResultSubject(ResultSubject(k, 3))
	if err != nil || got != k || attempt != 3 {
		t.Fatalf("ParseResultSubject: %v %d %v", got, attempt, err)
	}
	jk, err := ParseJobSubject(JobSubject(k))
	if err != nil || jk != k {
		t.Fatalf("ParseJobSubject: %v %v", jk, err)
	}
	if jk, err := ParseJobSubject(RerunSubject(k)); err != nil || jk != k {
		t.Fatalf("ParseJobSubject(%s): %v %v", RerunSubject(k), jk, err)
	}
	if !IsRerunSubject(RerunSubject(k)) || IsRerunSubject(JobSubject(k)) || IsRerunSubject("ejecta.jobs.e1.a.b.c.rerun.x") {
		t.Error("IsRerunSubject does not tell a re-run's subject alone")
	}
	if f := BuildLogsFilter(k); !strings.HasSuffix(f, ".*") || !strings.HasPrefix(LogSubject(k, 2), strings.TrimSuffix(f, "*")) {
		t.Fatalf("BuildLogsFilter %q does not match %q", f, LogSubject(k, 2))
	}
	for _, bad := range []string{"ejecta.jobs.e1.a.b", "ejecta.logs.e1.a.b.c", "ejecta.jobs.e1.a.b.c.d", "ejecta.jobs.e1.a%G0.b.c",
		"ejecta.jobs.e1.a.b.c.rerun.x", "ejecta.jobs.e1.a%G0.b.c.rerun"} {
		if _, err := ParseJobSubject(bad); err == nil {
			t.Errorf("ParseJobSubject(%q): no error", bad)
		}
	}
	if _, _, err := ParseResultSubject(LogSubject(k, 1)); err == nil {
		t.Error("ParseResultSubject accepted a log subject")
	}
}
