package main

import (
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/spf13/cobra"
)

func newDeadLettersCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "dead-letters [EXP]",
		Short: "List poison messages (jobs, results, upload requests that could not be processed)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return badInput(fmt.Errorf("dead-letters: want at most one experiment name, have %d arguments", len(args)))
			}
			if len(args) == 1 {
				return badInput(streams.ValidateExperimentName(args[0]))
			}
			return nil
		},
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			js, done, err := g.reader(cmd.Context(), format)
			if err != nil {
				return err
			}
			defer done()
			exp := ""
			if len(args) == 1 {
				exp = args[0]
			}
			dls, err := status.DeadLetters(cmd.Context(), js, exp)
			if err != nil {
				return err
			}
			if exp != "" && len(dls) == 0 {
				// A deleted experiment's letters go with it: none and no
				// record is a name that was mistyped.
				if _, err := status.Record(cmd.Context(), js, exp); errors.Is(err, status.ErrUnknownExperiment) {
					return badInput(err)
				}
			}
			if format == "json" {
				return writeJSONList(cmd.OutOrStdout(), dls)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tFROM\tREASON\tDATA")
			for _, d := range dls {
				data := string(d.Data)
				if len(data) > 60 {
					data = data[:60] + "..."
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", d.Seq, d.Time.Local().Format(time.DateTime), d.FromSubject, d.Reason, strconv.Quote(data))
			}
			return tw.Flush()
		},
	}
	outputFlag(cmd, &format)
	return cmd
}
