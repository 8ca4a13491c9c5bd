package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/archive"
	"github.com/ejecta-build/ejecta/streams"
)

func newArchiveCmd(g *globals) *cobra.Command {
	var storeURL, budget, format string
	var parallel int
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "archive NAME",
		Short: "(Re)build a finished experiment's log archives, one tar.zst per class",
		Long: `archive builds logs-archives/<class>.tar.zst under the experiment's prefix, one per
comparison class, from its results.json and the stored logs, replacing any earlier ones,
then logs-archives/manifest.json. The reporter does this by itself once an experiment is
finished; this command rebuilds them on demand. Logs are streamed from the store into
the archive and the archive into the store: memory stays within --memory-budget plus a
few MiB whatever the logs' sizes.`,
		Args:              experimentArg("archive"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			if parallel < 1 {
				return badInput(fmt.Errorf("--parallel %d: want 1 or more", parallel))
			}
			mem, err := parseBytes(budget)
			if err != nil {
				return badInput(fmt.Errorf("--memory-budget: %w", err))
			}
			opts := archive.BuildOptions{Force: true, Options: archive.Options{Parallel: parallel, Budget: mem, Wait: wait}}
			if err := opts.Validate(); err != nil {
				return badInput(err)
			}
			u, err := g.lookupStore(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), u)
			if err != nil {
				return err
			}
			m, err := archive.Build(cmd.Context(), st, args[0], opts)
			if errors.Is(err, archive.ErrUnknownExperiment) || errors.Is(err, archive.ErrNotFinished) {
				return badInput(err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return writeJSON(out, m)
			}
			for _, a := range m.Archives {
				fmt.Fprintf(out, "%-20s %5d crates %6d logs %12d bytes  %s\n", a.Class, a.Crates, a.Logs, a.Bytes,
					st.Location(streams.ExperimentPrefix(args[0])+a.Key))
			}
			fmt.Fprintln(out, st.Location(archive.ManifestKey(args[0])))
			return nil
		},
	}
	readerStoreFlag(cmd.Flags(), &storeURL)
	outputFlag(cmd, &format)
	cmd.Flags().IntVar(&parallel, "parallel", archive.DefaultParallel, "logs read from the store at once")
	cmd.Flags().StringVar(&budget, "memory-budget", sizeString(archive.DefaultBudget), "bytes of logs read ahead and held in memory")
	cmd.Flags().DurationVar(&wait, "wait", 0, "how long to wait for a log that is not stored yet")
	for _, name := range []string{"parallel", "memory-budget", "wait"} {
		bindEnv(cmd.Flags(), name, "EJECTA_ARCHIVE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	return cmd
}
