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
	var storeURL, format string
	opts := archiveFlags{}
	cmd := &cobra.Command{
		Use:   "archive NAME",
		Short: "(Re)build a finished experiment's log archives, one tar.zst per class",
		Long: `archive builds logs-archives/<class>.tar.zst under the experiment's prefix, one per
comparison class, from its results.json and the stored logs, replacing any earlier ones,
then the crater view's crater/logs-archives/ (all.tar.zst and one per crater comparison)
and crater/<toolchain>/reg/<name>-<version>/log.txt, then logs-archives/manifest.json.
The reporter does this by itself once an experiment is finished; this command rebuilds
them on demand. Logs are streamed from the store into the archive and the archive into the
store: memory stays within --memory-budget plus a few MiB whatever the logs' sizes.`,
		Args:              experimentArg("archive"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			o, err := opts.options()
			if err != nil {
				return err
			}
			st, err := g.openReaderStore(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			m, err := archive.Build(cmd.Context(), st, args[0], archive.BuildOptions{Force: true, Options: o})
			if err != nil {
				return archiveError(err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return writeJSON(out, m)
			}
			prefix := streams.ExperimentPrefix(args[0])
			for _, a := range m.Archives {
				fmt.Fprintf(out, "%-20s %5d crates %6d logs %12d bytes  %s\n", a.Class, a.Crates, a.Logs, a.Bytes,
					st.Location(prefix+a.Key))
			}
			if c := m.Crater; c != nil {
				for _, a := range c.Archives {
					fmt.Fprintf(out, "crater %-13s %5d crates %6d logs %12d bytes  %s\n", a.Name, a.Crates, a.Logs, a.Bytes,
						st.Location(prefix+"crater/"+a.Key))
				}
				fmt.Fprintf(out, "crater log.txt: %d, %d bytes, %d copied by the store itself\n", c.Logs, c.Bytes, c.Linked)
			}
			fmt.Fprintln(out, st.Location(archive.ManifestKey(args[0])))
			return nil
		},
	}
	readerStoreFlag(cmd.Flags(), &storeURL)
	outputFlag(cmd, &format)
	opts.register(cmd, "EJECTA_ARCHIVE_")
	return cmd
}

// archiveError is err, marked bad input when it names an experiment that
// is unknown or not finished.
func archiveError(err error) error {
	if errors.Is(err, archive.ErrUnknownExperiment) || errors.Is(err, archive.ErrNotFinished) {
		return badInput(err)
	}
	return err
}

// archiveFlags are the flags that tune reading logs into archives.
type archiveFlags struct {
	parallel int
	budget   string
	wait     time.Duration
}

// register adds the flags to cmd, each bound to envPrefix and its name.
func (f *archiveFlags) register(cmd *cobra.Command, envPrefix string) {
	cmd.Flags().IntVar(&f.parallel, "parallel", archive.DefaultParallel, "logs read from the store at once")
	cmd.Flags().StringVar(&f.budget, "memory-budget", sizeString(archive.DefaultBudget), "bytes of logs read ahead and held in memory")
	cmd.Flags().DurationVar(&f.wait, "wait", 0, "how long to wait for a log that is not stored yet")
	for _, name := range []string{"parallel", "memory-budget", "wait"} {
		bindEnv(cmd.Flags(), name, envPrefix+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
}

// options checks the flags and returns them as archive.Options.
func (f *archiveFlags) options() (archive.Options, error) {
	if f.parallel < 1 {
		return archive.Options{}, badInput(fmt.Errorf("--parallel %d: want 1 or more", f.parallel))
	}
	mem, err := parseBytes(f.budget)
	if err != nil {
		return archive.Options{}, badInput(fmt.Errorf("--memory-budget: %w", err))
	}
	o := archive.Options{Parallel: f.parallel, Budget: mem, Wait: f.wait}
	if err := o.Validate(); err != nil {
		return archive.Options{}, badInput(err)
	}
	return o, nil
}
