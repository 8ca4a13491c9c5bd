package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/weblinks"
)

// grepFlags are `ejecta grep`'s options.
type grepFlags struct {
	storeURL, format string
	toolchains       []string
	crates           []string
	classes          []string
	context          int
	filesOnly        bool
	ignoreCase       bool
	parallel         int
}

func newGrepCmd(g *globals) *cobra.Command {
	var f grepFlags
	cmd := &cobra.Command{
		Use:   "grep EXP REGEX",
		Short: "Search every log of an experiment, stored and live, for lines matching a regular expression",
		Long: `Search the logs of experiment EXP for lines matching REGEX (Go syntax, as
grep -E; (?i) or -i for any case). The stored logs are read from the store,
decompressed on the fly, several at once; the logs of builds still running are
read from the stream as far as they go. Lines are matched and printed without
their colours and other escape sequences.

Each hit names the crate, version, toolchain, attempt and line number, like
grep -n: "CRATE@VERSION TOOLCHAIN #ATTEMPT:LINE:TEXT", with '-' instead of ':'
for context lines; logs come in no particular order. --output json prints one
object per line per log instead, with a link to the line in the web UI when the
farm recorded one. A summary goes to stderr.`,
		Example: `  ejecta grep beta 'warning: unused_must_use' --toolchain nightly -l
  ejecta grep beta 'internal compiler error' -C 3
  ejecta grep beta 'error\[E0\d+\]' --class regressed --output json | jq .url`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return badInput(fmt.Errorf("grep: want EXP and REGEX, got %d arguments", len(args)))
			}
			return nil
		},
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputOf(f.format, "text", "json"); err != nil {
				return err
			}
			return runGrep(cmd, g, &f, args[0], args[1])
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&f.toolchains, "toolchain", nil, "only the logs of these toolchains (comma-separated)")
	fs.StringSliceVar(&f.crates, "crate", nil, "only the logs of these crates (comma-separated names)")
	fs.StringSliceVar(&f.classes, "class", nil, "only the crates of these classes in the report, e.g. regressed,spurious-regressed")
	fs.IntVarP(&f.context, "context", "C", 0, "lines of context around each match")
	fs.BoolVarP(&f.filesOnly, "files-with-matches", "l", false, "print only the logs that match, once each")
	fs.BoolVarP(&f.ignoreCase, "ignore-case", "i", false, "match letters of either case")
	fs.IntVar(&f.parallel, "parallel", 0, "logs read at once (0: one per CPU)")
	for flag, env := range map[string]string{
		"toolchain": "EJECTA_GREP_TOOLCHAIN", "crate": "EJECTA_GREP_CRATE", "class": "EJECTA_GREP_CLASS",
		"context": "EJECTA_GREP_CONTEXT", "files-with-matches": "EJECTA_GREP_FILES_WITH_MATCHES",
		"ignore-case": "EJECTA_GREP_IGNORE_CASE", "parallel": "EJECTA_GREP_PARALLEL",
	} {
		bindEnv(fs, flag, env)
	}
	readerStoreFlag(fs, &f.storeURL)
	outputFlagOf(cmd, &f.format, "text", "json")
	return cmd
}

// grepHit is one line of --output json.
type grepHit struct {
	logsearch.Log
	logsearch.Line
	URL string `json:"url,omitempty"`
}

func runGrep(cmd *cobra.Command, g *globals, f *grepFlags, exp, pattern string) error {
	ctx := cmd.Context()
	if f.ignoreCase {
		pattern = "(?i)" + pattern
	}
	re, err := regexp.Compile("(?m)" + pattern)
	if err != nil {
		return badInput(fmt.Errorf("REGEX: %w", err))
	}
	if f.context < 0 || f.parallel < 0 {
		return badInput(fmt.Errorf("--context %d, --parallel %d: want 0 or more", f.context, f.parallel))
	}
	q := logsearch.Query{Pattern: re, Toolchains: f.toolchains, Crates: f.crates, Context: f.context,
		FirstOnly: f.filesOnly, Parallel: f.parallel}
	js, st, done, err := g.storeReader(ctx, f.storeURL)
	if err != nil {
		return err
	}
	defer done()
	var live logsearch.Live // without the farm, the stored logs only
	if js != nil {
		live = logsearch.StreamLogs{JS: js, Reader: logtail.New(js, st)}
	}
	if len(f.classes) > 0 {
		if q.Builds, err = buildsOfClasses(ctx, st, exp, f.classes); err != nil {
			return err
		}
	}
	webURL := strings.TrimSuffix(farmWebURL(ctx, js), "/")
	out := cmd.OutOrStdout()
	enc := json.NewEncoder(out)
	stats, err := logsearch.Search(ctx, st, live, exp, q, func(h logsearch.Hits) error {
		name := fmt.Sprintf("%s@%s %s #%d", h.Crate, h.Version, h.Toolchain, h.Attempt)
		if f.filesOnly && f.format == "text" {
			_, err := fmt.Fprintln(out, name)
			return err
		}
		prev := 0
		for _, l := range h.Lines {
			if f.format == "json" {
				hit := grepHit{Log: h.Log, Line: l}
				if webURL != "" {
					hit.URL = webURL + weblinks.LogLine(h.BuildKey, h.Attempt, l.Number)
				}
				if err := enc.Encode(hit); err != nil {
					return err
				}
				continue
			}
			if f.context > 0 && prev != 0 && l.Number != prev+1 {
				fmt.Fprintln(out, "--")
			}
			prev = l.Number
			sep := "-"
			if l.Match {
				sep = ":"
			}
			if _, err := fmt.Fprintf(out, "%s%s%d%s%s\n", name, sep, l.Number, sep, l.Text); err != nil {
				return err
			}
		}
		if h.Truncated {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: more than %d lines to show; the first ones are shown\n", name, logsearch.MaxLinesPerLog)
		}
		return nil
	})
	fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d logs matched (%.1f MiB searched)\n", stats.Matched, stats.Logs, float64(stats.Bytes)/(1<<20))
	if err == nil && stats.Logs == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "no logs of experiment %s in %s, nor on the stream (a name misspelt, or another --store?)\n",
			exp, st.Location(strings.TrimSuffix(streams.ExperimentPrefix(exp), "/")))
	}
	return err
}

// buildsOfClasses says which builds belong to the crates of classes in exp's
// report.
func buildsOfClasses(ctx context.Context, st store.Store, exp string, classes []string) (func(streams.BuildKey) bool, error) {
	for _, c := range classes {
		if !slices.Contains(results.Classes, results.Class(c)) {
			return nil, badInput(fmt.Errorf("--class %q: want one of %v", c, results.Classes))
		}
	}
	rc, err := st.Get(ctx, results.Key(exp))
	if errors.Is(err, store.ErrNotFound) {
		return nil, badInput(fmt.Errorf("--class: experiment %s has no report in %s yet", exp, st.Location(results.Key(exp))))
	}
	if err != nil {
		return nil, fmt.Errorf("--class: read the report of %s: %w", exp, err)
	}
	defer rc.Close()
	type crate struct{ name, version string }
	in := map[crate]bool{}
	// One crate at a time: a report of many crates is not held whole.
	if _, err := results.Read(rc, func(c results.CrateResult, _ json.RawMessage) error {
		if slices.Contains(classes, string(c.Class)) {
			in[crate{c.Name, c.Version}] = true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("--class: read %s: %w", st.Location(results.Key(exp)), err)
	}
	return func(k streams.BuildKey) bool { return in[crate{k.Crate, k.Version}] }, nil
}
