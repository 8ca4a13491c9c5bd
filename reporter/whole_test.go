package reporter

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
)

// TestWholeFilesOnCadence checks when a large experiment's whole files
// (results.json, the crater view's, full.html's pages) are written, and
// that they go apart from its changes: the first write, then not before
// wholeSpacing times what their last write took, and at once when every
// first-run build has its result, or after a write of them failed; never
// two at a time, an experiment due meanwhile being looked at again when
// their writer is free. The other files and the progress entry come with
// every write, the entry saying which results.json is stored.
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
	st := &run{exps: map[string]*experiment{"big": e}, done: make(chan written, writers)}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// store has writer w store b in took (or fail), as start and collect
	// do.
	store := func(w int, b *batch, at time.Time, took time.Duration, fail error) {
		b.writer, b.startAt, b.storedAt = w, at, at.Add(took)
		st.writers[w].busy = true
		st.done <- written{b, fail}
		r.collect(st, false)
	}
	// write prepares the batches due at at and has them stored.
	write := func(at time.Time, took time.Duration, fail error) (changes, whole *batch) {
		t.Helper()
		e.retryAt(time.Time{})
		changes, whole, err := r.prepare(e, at, !st.writers[wholeWriter].busy)
		if err != nil {
			t.Fatal(err)
		}
		store(changesWriter, changes, at, 100*time.Millisecond, nil)
		if whole != nil {
			store(wholeWriter, whole, at, took, fail)
		}
		return changes, whole
	}
	has := func(b *batch, name string) bool {
		for _, o := range b.objects {
			if o.key == streams.ExperimentPrefix("big")+name {
				return true
			}
		}
		return false
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
	wholeFiles := []string{results.FileName, craterResultsFileName, craterRetryListFileName}
	changesFiles := []string{indexFileName, fullFileName, markdownFileName, retryFileName}
	// check checks a write's batches: the changes with the progress entry
	// naming the results.json stored before (resultsAt), and the whole
	// files apart, or none.
	check := func(when string, changes, whole *batch, wantWhole bool, resultsAt time.Time) {
		t.Helper()
		if (whole != nil) != wantWhole {
			t.Fatalf("%s: whole files written %v, want %v", when, whole != nil, wantWhole)
		}
		for _, name := range changesFiles {
			if !has(changes, name) {
				t.Errorf("%s: %s not written", when, name)
			}
		}
		for _, name := range wholeFiles {
			if has(changes, name) {
				t.Errorf("%s: %s written with the changes", when, name)
			}
			if whole != nil && !has(whole, name) {
				t.Errorf("%s: %s not written with the whole files", when, name)
			}
		}
		if n := pages(changes); n > 0 {
			t.Errorf("%s: %d pages of full.html written with the changes", when, n)
		}
		if whole != nil {
			if whole.objects[0].key != results.Key("big") {
				t.Errorf("%s: the whole files start with %s, want results.json", when, whole.objects[0].key)
			}
			if whole.progress != nil {
				t.Errorf("%s: the whole files carry a progress entry", when)
			}
		}
		var p streams.Progress
		if err := json.Unmarshal(changes.progress, &p); err != nil {
			t.Fatal(err)
		}
		if p.Done != e.done || !p.ResultsUpdated.Equal(resultsAt) {
			t.Errorf("%s: progress done %d, results updated %v; want %d, %v", when, p.Done, p.ResultsUpdated, e.done, resultsAt)
		}
	}
	doneJobs := func(b *batch) string {
		_, n, _ := strings.Cut(string(b.objects[0].parts[0]), `"done_jobs":`)
		n, _, _ = strings.Cut(n, ",")
		return n
	}

	apply(all[:30]) // 15 crates: past WholeFromCrates
	changes, whole := write(t0, 2*time.Second, nil)
	check("first write", changes, whole, true, time.Time{})
	if got := doneJobs(whole); got != "30" {
		t.Errorf("first results.json: done_jobs %s, want 30", got)
	}
	if pages(whole) == 0 {
		t.Errorf("first write: no page of full.html")
	}

	apply(all[30:40])
	changes, whole = write(t0.Add(3*time.Second), time.Second, nil)
	check("3 s later", changes, whole, false, t0)
	if got, want := e.whole.next, t0.Add(wholeSpacing*2*time.Second); !got.Equal(want) {
		t.Errorf("after a write without them: next due %v, want %v (their own cadence)", got.Sub(t0), want.Sub(t0))
	}
	changes, whole = write(t0.Add(39*time.Second), time.Second, nil)
	check("39 s later", changes, whole, false, t0)
	at := t0.Add(40 * time.Second)
	changes, whole = write(at, time.Second, nil)
	check("40 s later", changes, whole, true, t0)

	// A write of them that fails: they are due again at the next.
	apply(all[40:42])
	changes, whole = write(t0.Add(41*time.Second), time.Second, nil)
	check("41 s later", changes, whole, false, at)
	apply(all[42:44])
	changes, whole = write(t0.Add(60*time.Second), time.Second, errors.New("store down"))
	check("60 s later, failing", changes, whole, true, at)
	changes, whole = write(t0.Add(61*time.Second), time.Second, nil)
	check("61 s later", changes, whole, true, at)
	at = t0.Add(61 * time.Second)

	// Due while their writer is busy: the changes go alone, and the whole
	// files are looked at again once it is free.
	st.writers[wholeWriter].busy = true
	apply(all[44:])
	if e.done != 2*crates || e.finished() {
		t.Fatalf("done %d of %d, finished %v: want every build in, confirmations waiting", e.done, 2*crates, e.finished())
	}
	changes, whole, err = r.prepare(e, t0.Add(62*time.Second), false)
	if err != nil {
		t.Fatal(err)
	}
	check("every build in, their writer busy", changes, whole, false, at)
	if !e.whole.next.IsZero() {
		t.Errorf("their writer busy: next due %v, want none until it is free", e.whole.next.Sub(t0))
	}
	st.writers[wholeWriter].busy = false
	store(changesWriter, changes, t0.Add(62*time.Second), 100*time.Millisecond, nil)
	// Another experiment's whole files, whose write ends.
	st.exps["other"] = newExperiment("other", 1)
	st.writers[wholeWriter] = writer{busy: true}
	st.done <- written{&batch{exp: "other", writer: wholeWriter}, errors.New("store down")}
	r.collect(st, false)
	delete(st.exps, "other")
	if e.whole.next.IsZero() || e.whole.next.After(time.Now()) {
		t.Errorf("their writer free again: next due %v, want now", e.whole.next)
	}

	// Every first-run build in: at once, though the experiment waits for
	// its confirmations.
	at = t0.Add(63 * time.Second)
	changes, whole = write(at, time.Second, nil)
	check("every build in", changes, whole, true, t0.Add(61*time.Second))
	if got := doneJobs(whole); got != "80" {
		t.Errorf("results.json of every build in: done_jobs %s, want 80", got)
	}
	if !e.whole.next.IsZero() {
		t.Errorf("nothing changed since, yet the whole files are due at %v", e.whole.next.Sub(t0))
	}

	// A smaller experiment has them with its changes, in every write.
	r.cfg.WholeFromCrates = DefaultWholeFromCrates
	apply([]streams.Result{result("big", "zz-late", "1.0.0", "stable", 1, streams.StatusTestPass, "")})
	at = t0.Add(70 * time.Second) // and its pages, due again
	changes, whole = write(at, time.Second, nil)
	if whole != nil || !has(changes, results.FileName) || !has(changes, craterResultsFileName) || pages(changes) == 0 {
		t.Errorf("below the size: whole files apart %v, results.json %v, crater view %v, pages %d; want all in one batch",
			whole != nil, has(changes, results.FileName), has(changes, craterResultsFileName), pages(changes))
	}
}

// TestWholeFilesApartInARun runs a reporter that writes the whole files
// of an experiment of a few crates apart from its changes, as it does a
// large one's: the report ends complete, results.json and the crater
// view's with every crate, and the progress entry names the results.json
// stored.
func TestWholeFilesApartInARun(t *testing.T) {
	e := newEnv(t)
	const crates = 12
	e.putExperiment("apart", crates)
	e.startReporterWith(Config{Debounce: testDebounce, WholeFromCrates: 3, Confirmations: -1})
	rs := synthetic("apart", crates, 5)
	for i := range rs {
		rs[i].FinishedAt = time.Now().UTC()
		e.publish(rs[i])
		if i%5 == 4 {
			time.Sleep(2 * testDebounce) // a write or two between
		}
	}
	f := e.waitResults("apart", 2*crates)
	if len(f.Crates) != crates {
		t.Errorf("results.json has %d crates, want %d", len(f.Crates), crates)
	}
	waitFor(t, "the progress entry naming the results.json stored", func() bool {
		p, ok := e.tryProgress("apart")
		return ok && p.ResultsUpdated.Equal(e.readResults("apart").Updated)
	})
	crater := string(e.store.read(t, streams.ExperimentPrefix("apart")+craterResultsFileName))
	for _, r := range rs {
		if !strings.Contains(crater, `"name":"`+r.Crate+`-`+r.Version+`"`) {
			t.Errorf("crater view lacks %s %s", r.Crate, r.Version)
		}
	}
}
