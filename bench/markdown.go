package bench

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// NotesMarker separates the generated part of BENCHMARKS.md from notes
// written by hand (profiles, before and after a fix), which a new run keeps.
const NotesMarker = "<!-- Everything below this line is kept when `make bench` rewrites the file. -->"

// WriteMarkdown writes the table, the machine and the date to path, keeping
// whatever follows NotesMarker in the file that is there.
func WriteMarkdown(path string, rows []Row, machine string, at time.Time) error {
	notes := NotesMarker + "\n"
	if old, err := os.ReadFile(path); err == nil {
		if _, after, ok := strings.Cut(string(old), NotesMarker); ok {
			notes = NotesMarker + after
		}
	}
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (package `bench/`). Every figure sits beside a baseline or ceiling\n")
	b.WriteString("measured in the same run on the same machine; goals are judged on the ratio where there is\n")
	b.WriteString("one. `make bench BENCH=name[,name]` runs some benchmarks alone and only prints their rows:\n")
	b.WriteString(fmt.Sprintf("%s.\n\n", benchNames()))
	fmt.Fprintf(&b, "Measured %s on: %s.\n\n", at.UTC().Format("2006-01-02 15:04 MST"), machine)
	b.WriteString("The machine runs other test suites at the same time, so absolute figures are noisy; the\n")
	b.WriteString("ratios are more stable because both sides share the noise.\n\n")
	b.WriteString(Table(rows))
	b.WriteString("\n")
	b.WriteString(notes)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write the benchmark table: %w", err)
	}
	return nil
}

func benchNames() string {
	var parts []string
	for _, b := range All() {
		parts = append(parts, fmt.Sprintf("`%s` (%s)", b.Name, b.About))
	}
	return strings.Join(parts, ", ")
}
