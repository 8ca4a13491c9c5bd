package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/bench"
	"github.com/ejecta-build/ejecta/internal/testenv"
)

// EnvFull runs the benchmarks at full size, judges them and writes
// BENCHMARKS.md; `make bench` sets it. EnvOnly selects some by name.
const (
	EnvFull = "EJECTA_BENCH"
	EnvOnly = "EJECTA_BENCH_ONLY"
)

func TestMain(m *testing.M) {
	if code, ok := bench.ChildMain(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestBench runs the benchmarks and prints their table. Without
// EJECTA_BENCH=1 it is the smoke run of the ordinary suite: tiny sizes,
// nothing judged, so that the harness keeps working; under -short it
// leaves out the containerd (sandbox, attempt, slot gap, cores, crates rows),
// uploader scaling and crater-size (scale, run only when named) rows.
func TestBench(t *testing.T) {
	full := os.Getenv(EnvFull) == "1"
	selected, err := bench.Select(os.Getenv(EnvOnly))
	if err != nil {
		t.Fatal(err)
	}
	var rows []bench.Row
	for _, b := range selected {
		if testing.Short() && !full && (b.Name == "sandbox" || b.Name == "attempt" || b.Name == "slotgap" || b.Name == "cores" || b.Name == "scaling" || b.Name == "crates" || b.Name == "crates-test" || b.Name == "scale" || b.Name == "scale-report") {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			start := time.Now()
			got := b.Run(t, full)
			t.Logf("%s: %d rows in %s", b.Name, len(got), time.Since(start).Round(time.Millisecond))
			rows = append(rows, got...)
		})
	}
	table := bench.Table(rows)
	fmt.Println(table)
	if t.Failed() {
		return
	}
	if !full {
		for _, r := range rows {
			if r.Verdict != bench.Smoke && r.Verdict != bench.Skipped {
				t.Errorf("smoke row %q judged %s", r.Figure, r.Verdict)
			}
			if r.Ejecta == "" {
				t.Errorf("row %q has no figure", r.Figure)
			}
		}
		return
	}
	if len(selected) != len(bench.Default()) {
		t.Log("some benchmarks only: BENCHMARKS.md left as it is")
		return
	}
	path := filepath.Join(testenv.RepoRoot(t), "BENCHMARKS.md")
	if err := bench.WriteMarkdown(path, rows, bench.Machine(), time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		names   string
		want    string
		wantErr string
	}{
		{"", "logs,rss,pool,report,tail,sandbox,attempt,slotgap,cores,produce,jobs,scaling,grep,crates,crates-test", ""},
		{"logs", "logs", ""},
		{"scale", "scale", ""},
		{"scale-report", "scale-report", ""},
		{"crates,scale", "crates,scale", ""},
		{" tail , jobs", "tail,jobs", ""},
		{"logs,nope", "", `unknown benchmark "nope"`},
	} {
		got, err := bench.Select(tc.names)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Select(%q) error %v, want one containing %q", tc.names, err, tc.wantErr)
			}
			continue
		}
		var names []string
		for _, b := range got {
			names = append(names, b.Name)
		}
		if err != nil || strings.Join(names, ",") != tc.want {
			t.Errorf("Select(%q) = %v, %v; want %s", tc.names, names, err, tc.want)
		}
	}
}

// A rewrite of BENCHMARKS.md replaces the table and keeps the notes below
// the marker.
func TestWriteMarkdownKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	rows := []bench.Row{{Figure: "a | b", Ejecta: "1 MiB/s", Verdict: bench.Pass}}
	if err := bench.WriteMarkdown(path, rows, "test machine", time.Now()); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(old, "## Profile\nnotes by hand\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	rows[0].Ejecta = "2 MiB/s"
	if err := bench.WriteMarkdown(path, rows, "test machine", time.Now()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	s := string(data)
	for _, want := range []string{"test machine", `| a \| b | 2 MiB/s | — |`, "notes by hand"} {
		if !strings.Contains(s, want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "1 MiB/s") || strings.Count(s, bench.NotesMarker) != 1 {
		t.Errorf("BENCHMARKS.md kept the old table or doubled the marker:\n%s", s)
	}
}
