package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/spf13/cobra"
)

// DefaultCrateSource is Debian's registry of packaged crate sources.
const DefaultCrateSource = "/usr/share/cargo/registry"

func newExperimentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "experiment",
		Aliases: []string{"exp"},
		Short:   "Create and inspect experiments",
		RunE:    groupRun,
	}
	cmd.AddCommand(newExperimentCreateCmd(g), newExperimentListCmd(g), newExperimentStatusCmd(g), newExperimentCompareCmd(g))
	cmd.AddCommand(lifecycleCmds(g)...)
	return cmd
}

func modeNames() string {
	names := make([]string, len(streams.Modes))
	for i, m := range streams.Modes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

func newExperimentCreateCmd(g *globals) *cobra.Command {
	var req producer.Request
	var toolchains, memory, tmpSize, keepLogs, format string
	var timeout, noOutputTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME --toolchains A,B --mode MODE --crates SPEC",
		Short: "Publish an experiment: one job per selected crate and toolchain",
		Long: `Publish an experiment: one job per selected crate and toolchain.

Repeating the command with the same arguments adds no job; the same name with
other arguments is refused.

--crates SPEC:
  a,b@1.2.3,c    crate names, each optionally pinned to a version (else the newest)
  @FILE          the same, one per line ('#' starts a comment)
  all            every crate version in the crate source
  top-N          the newest version of the N most popular crates: by --downloads
                 FILE ("name,count" lines) if given, else by how many crates of
                 the source depend on them; ties by name
  random-N:SEED  N crates drawn reproducibly: the same seed on the same source
                 selects the same crates

--skip SPEC (a,b@1.2.3 or @FILE) leaves crates out before top-N and random-N
draw; a bare name skips every version. all, top-N and random-N need a
directory source: a sparse registry has no list of its crates.

--output json prints the experiment's record and what this run added.`,
		Example: `  ejecta experiment create demo --toolchains stable,nightly --mode check-only --crates cfg-if,itoa`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput(fmt.Errorf("experiment create: want exactly one NAME, have %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			req.Toolchains = splitList(toolchains)
			if memory != "" {
				mem, err := parseBytes(memory)
				if err != nil {
					return badInput(fmt.Errorf("--memory: %w", err))
				}
				req.Limits.MemoryBytes = mem
			}
			if tmpSize != "" {
				n, err := parseBytes(tmpSize)
				if err != nil {
					return badInput(fmt.Errorf("--tmp-size: %w", err))
				}
				req.Limits.TmpBytes = n
			}
			req.Limits.Timeout, req.Limits.NoOutputTimeout = streams.Duration(timeout), streams.Duration(noOutputTimeout)
			if keepLogs != "" {
				d, err := parseRetention(keepLogs)
				if err == nil {
					err = streams.ValidateKeepLogs(d)
				}
				if err != nil {
					return badInput(fmt.Errorf("--keep-logs: %w", err))
				}
				req.KeepLogs = d
			}
			if err := req.Validate(); err != nil {
				return badInput(err)
			}
			return withProducer(cmd, g, format, true, func(p *producer.Producer, _ jetstream.JetStream) (any, func(io.Writer), error) {
				out, err := p.Create(cmd.Context(), req)
				if err != nil {
					return nil, nil, err
				}
				for _, w := range out.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				return out, func(w io.Writer) {
					e := out.Experiment
					if out.Existed {
						fmt.Fprintf(w, "experiment %s already exists with these settings: %d jobs, %d added now\n", e.Name, e.Jobs, out.Added)
						return
					}
					fmt.Fprintf(w, "experiment %s created: %d crates × %d toolchains = %d jobs (%s, %s)\n",
						e.Name, e.Crates, len(e.Toolchains), e.Jobs, strings.Join(e.Toolchains, " vs "), e.Mode)
				}, nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&toolchains, "toolchains", "", "the two toolchains to compare, baseline first (e.g. stable,nightly)")
	f.StringVar(&req.Mode, "mode", "", "what to run on each crate: "+modeNames())
	f.StringVar(&req.Crates, "crates", "", "crate selection: a,b@1.0.0,c | @FILE | all | top-N | random-N:SEED")
	f.StringVar(&req.Skip, "skip", "", "crates to leave out, applied before top-N and random-N: a,b@1.0.0 | @FILE")
	f.StringVar(&req.Downloads, "downloads", "", "file of \"crate,downloads\" lines ranking top-N (default: rank by reverse dependencies in the crate source)")
	f.StringVar(&req.CrateSource, "crate-source", DefaultCrateSource, "where the crates come from: a directory registry holding their sources, or a crates.io-style sparse registry, sparse+https://host/index/, whose .crate files the builders download, check and cache")
	f.StringVar(&req.CapLints, "cap-lints", "", "pass --cap-lints LEVEL to rustc: "+strings.Join(streams.CapLints, ", "))
	f.IntVar(&req.Priority, "priority", 0, "priority 0 (default) to 100")
	f.BoolVar(&req.NoToolchainCheck, "no-toolchain-check", false, "queue the jobs even if no live builder has a toolchain (with no builder live, the check is skipped with a warning)")
	f.StringVar(&memory, "memory", "", "memory limit per build, e.g. 2GiB (default: the builder's, "+sizeString(builder.DefaultMemoryBytes)+" unless set)")
	f.StringVar(&tmpSize, "tmp-size", "", "size of each build's private /tmp, e.g. 1GiB (default: the builder's, "+sizeString(sandbox.DefaultTmpBytes)+" unless set)")
	f.DurationVar(&timeout, "timeout", 0, "wall-clock limit per build attempt, e.g. 30m (default: the builder's, "+builder.DefaultTimeout.String()+" unless set)")
	f.DurationVar(&noOutputTimeout, "no-output-timeout", 0, "kill a build that prints nothing for this long, e.g. 10m (default: the builder's, "+builder.DefaultNoOutputTimeout.String()+" unless set)")
	f.StringVar(&req.Baseline, "baseline-experiment", "", "an earlier experiment whose regressions are known: the report marks the crates that regressed there too")
	f.StringVar(&keepLogs, "keep-logs", "", "how long the stored logs are kept once the experiment is over, e.g. 30d; its report and log archives stay (default: the reporter's --keep-logs)")
	outputFlag(cmd, &format)
	// The experiment's own limits, not the builders' of the same names.
	for _, name := range []string{"memory", "tmp-size", "timeout", "no-output-timeout", "keep-logs", "baseline-experiment"} {
		bindEnv(f, name, "EJECTA_EXPERIMENT_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	// Checked in RunE rather than by cobra, which checks before the
	// environment and the configuration file are applied.
	cmd.PreRunE = requireFlags("crates", "mode", "toolchains")
	return cmd
}

// isInputError tells apart errors in what the user asked for from failures
// of the servers: the former exit with code 2.
func isInputError(err error) bool {
	var ie *producer.InvalidError
	return errors.As(err, &ie)
}

func outputFlag(cmd *cobra.Command, dst *string) {
	outputFlagOf(cmd, dst, "text", "json")
}

// outputFlagOf registers --output with formats, the first the default.
func outputFlagOf(cmd *cobra.Command, dst *string, formats ...string) {
	cmd.Flags().StringVarP(dst, "output", "o", formats[0], "output format: "+orList(formats))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

func checkOutput(format string) error {
	return checkOutputOf(format, "text", "json")
}

// checkOutputOf refuses a --output not among formats.
func checkOutputOf(format string, formats ...string) error {
	if !slices.Contains(formats, format) {
		return badInput(fmt.Errorf("--output %q: want %s", format, orList(formats)))
	}
	return nil
}

// orList is "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// writeJSONList writes items as a JSON array: `[]`, not `null`, when
// there are none, so scripts can always iterate.
func writeJSONList[T any](w io.Writer, items []T) error {
	if items == nil {
		items = []T{}
	}
	return writeJSON(w, items)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newExperimentListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List experiments",
		Long: `List experiments, oldest first. STATE is running (builds or confirmation
re-runs still to come), finished (every build has its result, nothing is
queued or running) or aborted. --output json prints the experiment records.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			js, done, err := g.reader(cmd.Context(), format)
			if err != nil {
				return err
			}
			defer done()
			if format == "json" {
				exps, err := status.List(cmd.Context(), js)
				if err != nil {
					return err
				}
				return writeJSONList(cmd.OutOrStdout(), exps)
			}
			sts, err := status.ListStatus(cmd.Context(), js)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tTOOLCHAINS\tMODE\tCRATES\tJOBS\tCREATED")
			for _, st := range sts {
				e := st.Experiment
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", e.Name, st.State(), strings.Join(e.Toolchains, ","), e.Mode, e.Crates, e.Jobs, e.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func newExperimentStatusCmd(g *globals) *cobra.Command {
	var format string
	var watch bool
	var timeout, interval time.Duration
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show an experiment's progress: builds done, running and queued per toolchain, results, classes",
		Long: `Show an experiment's progress: its builds done, running and queued per
toolchain, the rate builds finish at over the last 5 minutes and the time
left at it, the results and the classes of the crates compared so far.

With --watch it follows the experiment until it is finished, every
--interval: on a terminal one display redrawn in place (a bar per toolchain);
piped, a line whenever something changes; with --output json a JSON document
per change, one per line.`,
		Args:              experimentArg("experiment status"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return badInput(fmt.Errorf("--interval %s: want a positive duration", interval))
			}
			js, done, err := g.reader(cmd.Context(), format)
			if err != nil {
				return err
			}
			defer done()
			if watch {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				err := watchStatus(ctx, js, args[0], format, cmd.OutOrStdout(), interval)
				if errors.Is(err, context.DeadlineExceeded) && cmd.Context().Err() == nil {
					return fmt.Errorf("experiment %s: not finished after --timeout %s", args[0], timeout)
				}
				if cmd.Context().Err() != nil {
					return nil // interrupted
				}
				return err
			}
			st, err := status.Get(cmd.Context(), js, args[0])
			if errors.Is(err, status.ErrUnknownExperiment) {
				return badInput(err)
			}
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			printStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	outputFlag(cmd, &format)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the experiment until it is finished")
	cmd.Flags().DurationVar(&timeout, "timeout", 24*time.Hour, "with --watch: give up (exit 1) after this long")
	bindEnv(cmd.Flags(), "timeout", "EJECTA_WATCH_TIMEOUT")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "with --watch: how often to look")
	bindEnv(cmd.Flags(), "interval", "EJECTA_WATCH_INTERVAL")
	return cmd
}

func printStatus(w io.Writer, st status.Status) {
	e := st.Experiment
	fmt.Fprintf(w, "experiment %s: %s vs %s, %s, %d crates\n", e.Name, e.Toolchains[0], e.Toolchains[1], e.Mode, e.Crates)
	if e.State != "" {
		fmt.Fprintf(w, "state: %s\n", e.State)
	}
	fmt.Fprintf(w, "jobs: %d total, %d queued, %d running, %d done", st.Total, st.Queued, st.Running, st.Done)
	if st.DeadLetters > 0 {
		fmt.Fprintf(w, ", %d dead letters", st.DeadLetters)
	}
	if r := rateText(st.RatePerMinute, st.ETASeconds, st.Done < st.Total); r != "" {
		fmt.Fprintf(w, "; %s", r)
	}
	fmt.Fprintln(w)
	width := 0
	for _, t := range st.Toolchains {
		width = max(width, len(t.Toolchain))
	}
	for _, t := range st.Toolchains {
		line := fmt.Sprintf("  %-*s %d/%d done, %d running, %d queued", width+1, t.Toolchain+":", t.Done, t.Total, t.Running, t.Queued)
		if r := rateText(t.RatePerMinute, t.ETASeconds, t.Done < t.Total); r != "" {
			line += "; " + r
		}
		fmt.Fprintln(w, printable(line))
	}
	if st.Confirming > 0 {
		fmt.Fprintf(w, "confirming: %d regressions being re-run on both toolchains\n", st.Confirming)
	}
	printCounts(w, "results", st.Statuses)
	printCounts(w, "classes", st.Classes)
}

func printCounts[K ~string](w io.Writer, title string, m map[K]int) {
	if len(m) == 0 {
		return
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintf(w, "%s:", title)
	for _, k := range keys {
		fmt.Fprintf(w, " %s=%d", k, m[k])
	}
	fmt.Fprintln(w)
}
