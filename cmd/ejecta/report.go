package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/spf13/cobra"
)

func newReportCmd(g *globals) *cobra.Command {
	var storeURL, format string
	cmd := &cobra.Command{
		Use:   "report NAME",
		Short: "Print where an experiment's report is, or its results.json",
		Args:  experimentArg("report"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			name := args[0]
			if format == "text" {
				fmt.Fprintln(cmd.OutOrStdout(), st.Location(reporter.IndexKey(name)))
				fmt.Fprintln(cmd.OutOrStdout(), st.Location(results.Key(name)))
				return nil
			}
			rc, err := st.Get(cmd.Context(), results.Key(name))
			if errors.Is(err, store.ErrNotFound) {
				return badInput(fmt.Errorf("report %s: no results.json yet in %s (unknown experiment, or no result so far)", name, st.Location(results.Key(name))))
			}
			if err != nil {
				return fmt.Errorf("read report of %s: %w", name, err)
			}
			defer rc.Close()
			_, err = io.Copy(cmd.OutOrStdout(), rc)
			return err
		},
	}
	storeFlag(cmd.Flags(), &storeURL, "file://"+defaultUpStore())
	outputFlag(cmd, &format)
	return cmd
}
