package reporter

import (
	"fmt"
	"testing"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// crateWith builds a crate state from outcomes: the first run, then each
// re-run round (a zero Outcome is a missing result).
func crateWith(first [2]Outcome, reruns ...[2]Outcome) *crateState {
	mk := func(o Outcome, tc string, attempt int) *kept {
		if o.Status == "" {
			return nil
		}
		r := res("c", tc, attempt, o.Status)
		r.Reason = o.Reason
		return keepOf(r)
	}
	cs := &crateState{key: crateKey{"c", "1.0.0"}, lower: "c"}
	cs.runs = pair{mk(first[0], "stable", 1), mk(first[1], "nightly", 1)}
	for i, rr := range reruns {
		base := streams.RerunAttemptBase(i+1) + 1
		*cs.rerun(i + 1) = pair{mk(rr[0], "stable", base), mk(rr[1], "nightly", base)}
	}
	return cs
}

// sharedFirst marks cs's first run as built in a shared target on its
// new toolchain's side.
func sharedFirst(cs *crateState) *crateState {
	cs.runs[1].SharedTarget = true
	return cs
}

func TestJudge(t *testing.T) {
	regressed := [2]Outcome{oPass, oBuild}
	tests := []struct {
		name          string
		cs            *crateState
		confirmations int
		class         results.Class
		confirmation  string
		root          string
	}{
		{"no confirmation asked", crateWith(regressed), 0, results.ClassRegressed, "", ""},
		{"waiting for the re-run", crateWith(regressed), 1, results.ClassRegressed, results.ConfirmationPending, ""},
		{"re-run half done", crateWith(regressed, [2]Outcome{oPass, {}}), 1, results.ClassRegressed, results.ConfirmationPending, ""},
		{"re-run agrees", crateWith(regressed, regressed), 1, results.ClassRegressed, results.ConfirmationConfirmed, ""},
		{"re-run disagrees", crateWith(regressed, [2]Outcome{oPass, oPass}), 1, results.ClassFlaky, results.ConfirmationFlaky, ""},
		{"re-run fails on both", crateWith(regressed, [2]Outcome{oBuild, oBuild}), 1, results.ClassFlaky, results.ConfirmationFlaky, ""},
		{"re-run spuriously regressed", crateWith(regressed, [2]Outcome{oPass, bf("oom")}), 1, results.ClassFlaky, results.ConfirmationFlaky, ""},
		{"two of two agree", crateWith(regressed, regressed, regressed), 2, results.ClassRegressed, results.ConfirmationConfirmed, ""},
		{"second of two pending", crateWith(regressed, regressed), 2, results.ClassRegressed, results.ConfirmationPending, ""},
		{"second of two disagrees", crateWith(regressed, regressed, [2]Outcome{oPass, oPass}), 2, results.ClassFlaky, results.ConfirmationFlaky, ""},
		{"dependent regression", crateWith([2]Outcome{oPass, bf("depends-on(foo)")}, [2]Outcome{oPass, bf("depends-on(foo)")}), 1,
			results.ClassRegressed, results.ConfirmationConfirmed, "foo"},
		{"dependent fix", crateWith([2]Outcome{bf("depends-on(bar@1.2.3, baz)"), oPass}), 1, results.ClassFixed, "", "bar"},
		{"spurious, waiting", crateWith([2]Outcome{oPass, bf("oom")}), 1, results.ClassSpuriousRegressed, results.ConfirmationPending, ""},
		{"spurious, re-run passes", crateWith([2]Outcome{oPass, bf("oom")}, [2]Outcome{oPass, oPass}), 1,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"spurious, re-run regresses", crateWith([2]Outcome{oPass, bf("oom")}, [2]Outcome{oPass, bf("oom")}), 1,
			results.ClassSpuriousRegressed, results.ConfirmationReproduced, ""},
		{"spurious gets one re-run whatever the count", crateWith([2]Outcome{oPass, bf("timeout")}, [2]Outcome{oPass, oPass}), 3,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"spurious, re-runs off", crateWith([2]Outcome{oPass, bf("oom")}), 0, results.ClassSpuriousRegressed, "", ""},
		{"fixed is not re-run", crateWith([2]Outcome{oBuild, oPass}), 1, results.ClassFixed, "", ""},
		// What rests on a shared target is confirmed in a clean one.
		{"shared fix, waiting", sharedFirst(crateWith([2]Outcome{oBuild, oPass})), 1, results.ClassFixed, results.ConfirmationPending, ""},
		{"shared fix, re-run agrees", sharedFirst(crateWith([2]Outcome{oBuild, oPass}, [2]Outcome{oBuild, oPass})), 1,
			results.ClassFixed, results.ConfirmationConfirmed, ""},
		{"shared fix, re-run passes on both", sharedFirst(crateWith([2]Outcome{oBuild, oPass}, [2]Outcome{oPass, oPass})), 1,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"shared fix, one re-run whatever the count", sharedFirst(crateWith([2]Outcome{oBuild, oPass}, [2]Outcome{oBuild, oPass})), 3,
			results.ClassFixed, results.ConfirmationConfirmed, ""},
		{"shared spurious fix, re-run passes", sharedFirst(crateWith([2]Outcome{bf("oom"), oPass}, [2]Outcome{oPass, oPass})), 1,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"shared spurious fix, re-run fixed", sharedFirst(crateWith([2]Outcome{bf("oom"), oPass}, [2]Outcome{oBuild, oPass})), 1,
			results.ClassSpuriousFixed, results.ConfirmationReproduced, ""},
		{"shared regression, confirmations off", sharedFirst(crateWith(regressed)), 0, results.ClassRegressed, results.ConfirmationPending, ""},
		{"shared regression, confirmations off, re-run disagrees", sharedFirst(crateWith(regressed, [2]Outcome{oPass, oPass})), 0,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"shared regression, re-run disagrees", sharedFirst(crateWith(regressed, [2]Outcome{oPass, oPass})), 1,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"shared regression, re-run agrees", sharedFirst(crateWith(regressed, regressed)), 1,
			results.ClassRegressed, results.ConfirmationConfirmed, ""},
		{"shared spurious regression, confirmations off", sharedFirst(crateWith([2]Outcome{oPass, bf("oom")})), 0,
			results.ClassSpuriousRegressed, results.ConfirmationPending, ""},
		{"shared same-build-fail, waiting", sharedFirst(crateWith([2]Outcome{oBuild, oBuild})), 1, results.ClassSameBuildFail, results.ConfirmationPending, ""},
		{"shared same-build-fail, re-run passes", sharedFirst(crateWith([2]Outcome{oBuild, oBuild}, [2]Outcome{oPass, oPass})), 1,
			results.ClassSameTestPass, results.ConfirmationCleared, ""},
		{"shared same-build-fail, re-run fails", sharedFirst(crateWith([2]Outcome{oBuild, oBuild}, [2]Outcome{oBuild, oBuild})), 1,
			results.ClassSameBuildFail, results.ConfirmationConfirmed, ""},
		{"clean same-build-fail is not re-run", crateWith([2]Outcome{oBuild, oBuild}), 1, results.ClassSameBuildFail, "", ""},
		{"shared same-test-pass is not re-run", sharedFirst(crateWith([2]Outcome{oPass, oPass})), 1, results.ClassSameTestPass, "", ""},
		{"re-run results of an unchanged crate are ignored", crateWith([2]Outcome{oPass, oPass}, regressed), 1, results.ClassSameTestPass, "", ""},
		{"pending", crateWith([2]Outcome{oPass, {}}), 1, results.ClassPending, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(tt.cs, tt.confirmations)
			if v.Class != tt.class || v.Confirmation != tt.confirmation || v.Root != tt.root {
				t.Errorf("judge = class %q, confirmation %q, root %q (note %q); want %q, %q, %q",
					v.Class, v.Confirmation, v.Root, v.Note, tt.class, tt.confirmation, tt.root)
			}
		})
	}
}

func TestRootCause(t *testing.T) {
	for reason, want := range map[streams.Reason][2]string{
		"depends-on(foo)":             {"foo", ""},
		"depends-on(foo@1.0.0)":       {"foo", "1.0.0"},
		"depends-on(foo 1.0.0, bar)":  {"foo", "1.0.0"},
		"depends-on(foo v1.0.0, bar)": {"foo", "1.0.0"},
		"depends-on(a,b,c)":           {"a", ""},
		"depends-on(foo":              {"", ""},
		"compiler-error(E0308)":       {"", ""},
		"":                            {"", ""},
	} {
		if got := rootCause(reason); got != want[0] {
			t.Errorf("rootCause(%q) = %q, want %q", reason, got, want[0])
		}
		if name, version := dependency(reason); name != want[0] || version != want[1] {
			t.Errorf("dependency(%q) = %q, %q, want %q, %q", reason, name, version, want[0], want[1])
		}
	}
}

// TestRootGroups checks that root regressions come first, those with the
// most dependents first, and dependents are counted under their root.
func TestRootGroups(t *testing.T) {
	e := newExperiment("exp", 0)
	e.setRecord(testRecord())
	reg := func(name string, reason streams.Reason) {
		e.apply(res(name, "stable", 1, streams.StatusTestPass), nil)
		r := res(name, "nightly", 1, streams.StatusBuildFail)
		r.Reason = reason
		e.apply(r, nil)
	}
	reg("lonely", "compiler-error(E0308)")
	reg("serde", "compiler-error(E0277)")
	for i := range 3 {
		reg(fmt.Sprintf("uses-serde-%d", i), "depends-on(serde)")
	}
	reg("uses-gone", "depends-on(gone)")
	reg("uses-lonely", "depends-on(lonely)")

	groups, err := rootGroups(e.sorted(results.ClassRegressed), "regressed")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, fmt.Sprintf("%s|%d", g.Label, len(g.Rows)))
	}
	want := []string{
		"root cause serde: 3 dependents regressed because it did|4",
		"root cause lonely: 1 dependent regressed because it did|2",
		"dependency gone (not regressed itself in this experiment): 1 dependent|1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups:\n got %q\nwant %q", got, want)
	}
}
