package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
)

func newExperimentCompareCmd(g *globals) *cobra.Command {
	var storeURL, format string
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two experiments' reports: the crates whose class changed from A to B",
		Long: `Compare the reports of experiments A and B, which must share a toolchain (the
same pair, or the same baseline against two nightlies): the crates regressed in
B and not in A (new since A), those regressed in A and not in B (gone), and every
other change of class. A crate is matched by name and version, or by name when
each report has one version of it. Crates still pending in either are counted,
not compared.`,
		Example: `  ejecta experiment compare beta-2026-11-30 beta-2026-12-07
  ejecta experiment compare before after -o markdown > comment.md`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return badInput(fmt.Errorf("experiment compare: want two experiments, A and B; got %d", len(args)))
			}
			return nil
		},
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputOf(format, "text", "json", "markdown"); err != nil {
				return err
			}
			ctx := cmd.Context()
			_, st, done, err := g.storeReader(ctx, storeURL)
			if err != nil {
				return err
			}
			defer done()
			d, err := results.CompareStored(ctx, st, args[0], args[1])
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, results.ErrNoSharedToolchain) {
				return badInput(err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			case "markdown":
				return writeDiff(out, d, true)
			}
			return writeDiff(out, d, false)
		},
	}
	readerStoreFlag(cmd.Flags(), &storeURL)
	outputFlagOf(cmd, &format, "text", "json", "markdown")
	return cmd
}

// writeDiff prints d for a terminal, or as markdown to paste in a pull
// request or an issue.
func writeDiff(w io.Writer, d *results.Diff, markdown bool) error {
	var b strings.Builder
	head, item := "", "  "
	if markdown {
		head, item = "### ", "- "
	}
	fmt.Fprintf(&b, "%s%s (%s) → %s (%s), sharing %s\n", head, d.A, strings.Join(d.ToolchainsA, ", "),
		d.B, strings.Join(d.ToolchainsB, ", "), strings.Join(d.Shared, ", "))
	for _, sec := range []struct {
		title string
		take  func(results.Change) bool
	}{
		{fmt.Sprintf("regressed in %s, not in %s", d.B, d.A), results.Change.NewRegression},
		{fmt.Sprintf("regressed in %s, not in %s", d.A, d.B), results.Change.GoneRegression},
		{"other changes of class", func(c results.Change) bool { return !c.NewRegression() && !c.GoneRegression() }},
	} {
		var lines []string
		for _, c := range d.Changes {
			if !sec.take(c) {
				continue
			}
			version := c.VersionB
			if c.VersionA != c.VersionB {
				version = c.VersionA + " → " + c.VersionB
			}
			if markdown {
				lines = append(lines, fmt.Sprintf("%s`%s` %s: %s → %s", item, c.Name, version, c.ClassA, c.ClassB))
			} else {
				lines = append(lines, fmt.Sprintf("%s%s %s: %s → %s", item, c.Name, version, c.ClassA, c.ClassB))
			}
		}
		if len(lines) == 0 {
			continue
		}
		if markdown {
			fmt.Fprintf(&b, "\n**%s (%d)**\n\n", sec.title, len(lines))
		} else {
			fmt.Fprintf(&b, "\n%s (%d):\n", sec.title, len(lines))
		}
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	if len(d.Changes) == 0 {
		b.WriteString("\nno crate changed class\n")
	}
	fmt.Fprintf(&b, "\nsame class: %d; pending in either: %d; only in %s: %d; only in %s: %d\n",
		d.Same, d.Pending, d.A, d.OnlyA, d.B, d.OnlyB)
	_, err := io.WriteString(w, b.String())
	return err
}
