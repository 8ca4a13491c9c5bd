package reporter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// TestWholeFilesOnCadence checks when a large experiment's writes carry its
// whole files (results.json, the crater view's, full.html's pages): the
// first write, then not before wholeSpacing times what their last write
// took, and at once when every first-run build has its result, or after
// a write of them failed; the other files and the progress entry come
// with every write, the entry saying which results.json is stored.
func TestWholeFilesOnCadence(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	const crates = 40
	r := &Reporter{cfg: Config{WholeFromCrates: 10}.withDefaults(), tmpl: tmpl, log: zerolog.Nop()}
	e := newExperiment("big", 1)
	e.setRecord(&streams.Experiment{V: 1, Name: "big", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeBuildAndTest, Crates: crates, Jobs: 2 * crates})
	all := synthetic("big", crates, 3)
	apply := func(rs []streams.Result) {
		for i := range rs {
			if !e.apply(&rs[i], func(string) {}) {
				t.Fatalf("result %d not applied", i)
			}
		}
	}
	st := &run{exps: map[string]*experiment{"big": e}, done: make(chan written, 1)}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// write prepares a batch at at and has it stored in took (or fail),
	// as flushDue and collect do.
	write := func(at time.Time, took time.Duration, fail error) *batch {
		t.Helper()
		e.retryAt(time.Time{})
		b, err := r.prepare(e, at)
		if err != nil {
			t.Fatal(err)
		}
		b.startAt, b.storedAt = at, at.Add(took)
		st.writing = true
		st.done <- written{b, fail}
		r.collect(st, false)
		return b
	}
	has := func(b *batch, name string) bool {
		for _, o := range b.objects {
			if o.key == streams.ExperimentPrefix("big")+name {
				return true
			}
		}
		return false
	}
	progress := func(b *batch) streams.Progress {
		var p streams.Progress
		if err := json.Unmarshal(b.progress, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pages := func(b *batch) int {
		n := 0
		for _, o := range b.objects {
			if strings.Contains(o.key, "/full-") {
				n++
			}
		}
		return n
	}
	check := func(when string, b *batch, whole bool, resultsAt time.Time) {
		t.Helper()
		if b.whole != whole {
			t.Errorf("%s: whole %v, want %v", when, b.whole, whole)
		}
		for _, name := range []string{results.FileName, craterResultsFileName, craterRetryListFileName} {
			if has(b, name) != whole {
				t.Errorf("%s: %s written %v, want %v", when, name, has(b, name), whole)
			}
		}
		// Every crate changed since the last write of the whole files.
		if n := pages(b); (n > 0) != whole {
			t.Errorf("%s: %d pages of full.html written, want them with the whole files only", when, n)
		}
		for _, name := range []string{indexFileName, fullFileName, markdownFileName, retryFileName} {
			if !has(b, name) {
				t.Errorf("%s: %s not written", when, name)
			}
		}
		if p := progress(b); p.Done != e.done || !p.ResultsUpdated.Equal(resultsAt) {
			t.Errorf("%s: progress done %d, results updated %v; want %d, %v", when, p.Done, p.ResultsUpdated, e.done, resultsAt)
		}
	}

	apply(all[:30]) // 15 crates: past WholeFromCrates
	b := write(t0, 2*time.Second, nil)
	check("first write", b, true, t0)
	if !bytes.Contains(b.objects[0].parts[0], []byte(`"done_jobs":30`)) {
		t.Errorf("first object %s does not start with 30 done jobs: %.80s", b.objects[0].key, b.objects[0].parts[0])
	}

	apply(all[30:40])
	b = write(t0.Add(3*time.Second), 100*time.Millisecond, nil)
	check("3 s later", b, false, t0)
	if want := t0.Add(wholeSpacing * 2 * time.Second); !e.dueAt().Equal(want) {
		t.Errorf("after a write without them: due %v, want %v (the whole files' own)", e.dueAt().Sub(t0), want.Sub(t0))
	}
	// Writes of changes go a debounce apart, not spaced by the whole
	// files' 2 s.
	apply(all[40:42])
	if due := e.dueAt(); due.IsZero() || due.Sub(time.Now()) > 2*r.cfg.Debounce {
		t.Errorf("a change after a write without the whole files: due in %v, want a debounce", time.Until(due))
	}
	check("39 s later", write(t0.Add(39*time.Second), 100*time.Millisecond, nil), false, t0)
	at := t0.Add(40 * time.Second)
	check("40 s later", write(at, time.Second, nil), true, at)

	// A write of them that fails: they are due again at the next.
	apply(all[42:43])
	check("41 s later", write(t0.Add(41*time.Second), 100*time.Millisecond, nil), false, at)
	apply(all[43:44])
	failed := t0.Add(60 * time.Second)
	check("60 s later, failing", write(failed, time.Second, errors.New("store down")), true, failed)
	at = t0.Add(61 * time.Second)
	check("61 s later", write(at, time.Second, nil), true, at)

	// Every first-run build in: at once, though the experiment waits for
	// its confirmations.
	apply(all[44:])
	if e.done != 2*crates || e.finished() {
		t.Fatalf("done %d of %d, finished %v: want every build in, confirmations waiting", e.done, 2*crates, e.finished())
	}
	at = t0.Add(62 * time.Second)
	b = write(at, time.Second, nil)
	check("every build in", b, true, at)
	if !strings.Contains(string(b.objects[0].parts[0]), `"done_jobs":80`) {
		t.Errorf("results.json of every build in: %.80s", b.objects[0].parts[0])
	}
	if !e.dueAt().IsZero() {
		t.Errorf("nothing changed, yet a write is due at %v", e.dueAt().Sub(t0))
	}

	// A smaller experiment has them in every write.
	r.cfg.WholeFromCrates = DefaultWholeFromCrates
	apply([]streams.Result{result("big", "zz-late", "1.0.0", "stable", 1, streams.StatusTestPass, "")})
	at = t0.Add(70 * time.Second) // and its pages, due again
	check("below the size", write(at, time.Second, nil), true, at)
}
