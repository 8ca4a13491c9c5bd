package bench

import (
	"fmt"
	"strings"
)

// Verdict says how a row compares to its goal.
type Verdict string

const (
	Pass    Verdict = "pass"
	Miss    Verdict = "**miss**"
	Skipped Verdict = "skipped"
	Smoke   Verdict = "smoke" // measured at smoke sizes: not judged
)

// Row is one line of the table.
type Row struct {
	Figure   string
	Ejecta   string // ejecta's value
	Baseline string // the baseline or ceiling measured in the same run, or "—"
	Ratio    string // ejecta ÷ baseline (or as the figure says), or "—"
	Goal     string
	Verdict  Verdict
	Note     string // what bounds the figure, why a row is skipped
}

// judge returns Pass when ok, else Miss; at smoke sizes nothing is judged.
func judge(full, ok bool) Verdict {
	switch {
	case !full:
		return Smoke
	case ok:
		return Pass
	}
	return Miss
}

// Table renders rows as a markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| figure | ejecta | baseline / ceiling (same run) | ratio | goal | verdict | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		cells := []string{r.Figure, r.Ejecta, r.Baseline, r.Ratio, r.Goal, string(r.Verdict), r.Note}
		for i, c := range cells {
			if c == "" {
				c = "—"
			}
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	return b.String()
}

// ratio formats a÷b with an ×: two decimals, or two significant digits
// below 0.1, so that a small ratio does not read as 0.00×.
func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	if r := a / b; r < 0.1 {
		return fmt.Sprintf("%.2g×", r)
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// mibps formats a throughput in MiB/s.
func mibps(bytes int64, seconds float64) string {
	return fmt.Sprintf("%.1f MiB/s", float64(bytes)/(1<<20)/seconds)
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
