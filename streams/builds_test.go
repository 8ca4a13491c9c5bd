package streams

import (
	"strings"
	"testing"
)

func TestBuildSubjectsRoundTrip(t *testing.T) {
	k := BuildKey{Experiment: "e1", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly-2026-01-01"}
	for _, sender := range []string{"builder-host-a", "builder", AnonymousSender} {
		got, attempt, from, err := ParseResultSubject(ResultSubject(k, 3, sender))
		if err != nil || got != k || attempt != 3 || from != sender {
			t.Fatalf("ParseResultSubject: %v %d %q %v", got, attempt, from, err)
		}
	}
	// Results of an earlier version, on subjects without a sender.
	if got, attempt, from, err := ParseResultSubject(strings.TrimSuffix(ResultSubject(k, 3, AnonymousSender), "."+AnonymousSender)); err != nil || got != k || attempt != 3 || from != "" {
		t.Fatalf("ParseResultSubject of a sender-less subject: %v %d %q %v", got, attempt, from, err)
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
	// The stream republishes a job's headers from its subject under
	// queuedPrefix (Ensure).
	for subj, want := range map[string]string{JobSubject(k): JobsConsumer(k.Experiment, k.Toolchain), RerunSubject(k): RerunsConsumer(k.Experiment, k.Toolchain)} {
		if got, ok := QueuedConsumer(queuedPrefix + strings.TrimPrefix(subj, jobsPrefix)); !ok || got != want {
			t.Errorf("QueuedConsumer of the notice of %s: %q %v, want %q", subj, got, ok, want)
		}
	}
	if got, ok := QueuedConsumer(JobSubject(k)); ok {
		t.Errorf("QueuedConsumer of a job subject, not a notice: %q", got)
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
	for _, bad := range []string{LogSubject(k, 1), ResultSubject(k, 1, "mallory"), ResultSubject(k, 1, "builder-A"), ResultSubject(k, 1, "") + "x.y"} {
		if _, _, _, err := ParseResultSubject(bad); err == nil {
			t.Errorf("ParseResultSubject(%q): no error", bad)
		}
	}
}
