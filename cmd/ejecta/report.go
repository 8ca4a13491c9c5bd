package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
)

func newReportCmd(g *globals) *cobra.Command {
	var storeURL, format string
	cmd := &cobra.Command{
		Use:   "report NAME",
		Short: "Print an experiment's report: its classes, its regressions by root cause, their logs",
		Long: `Print an experiment's report as the reporter keeps it in the store: progress,
how many crates fell in each class, then the regressions grouped by root cause
(a crate that failed because a dependency did is listed under it), the other
classes worth a look, and where each of their logs is.

--output text is for a terminal, markdown for a GitHub comment; json prints
results.json as it is. The store is the one the farm's reporter recorded unless
--store names another.`,
		Example: `  ejecta report demo
  ejecta report demo -o markdown > comment.md
  ejecta report demo -o json | jq '.crates[] | select(.class == "regressed")'`,
		Args:              experimentArg("report"),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputOf(format, "text", "json", "markdown"); err != nil {
				return err
			}
			return printReport(cmd, g, args[0], storeURL, format)
		},
	}
	readerStoreFlag(cmd.Flags(), &storeURL)
	outputFlagOf(cmd, &format, "text", "json", "markdown")
	return cmd
}

// printReport prints experiment name's report from the store. The farm
// (NATS) says where the store and the web UI are and whether the
// experiment exists; with --store, a report is printed without it.
func printReport(cmd *cobra.Command, g *globals, name, storeURL, format string) error {
	ctx := cmd.Context()
	js, st, done, err := g.storeReader(ctx, storeURL)
	if err != nil {
		return err
	}
	defer done()
	rc, err := st.Get(ctx, results.Key(name))
	if errors.Is(err, store.ErrNotFound) {
		return noReport(ctx, js, st, name)
	}
	if err != nil {
		return fmt.Errorf("read the report of %s: %w", name, err)
	}
	defer rc.Close()
	out := cmd.OutOrStdout()
	if format == "json" {
		_, err = io.Copy(out, rc)
		return err
	}
	var f results.File
	if err := json.NewDecoder(rc).Decode(&f); err != nil {
		return fmt.Errorf("read %s: %w", st.Location(results.Key(name)), err)
	}
	v := newReportView(&f, st, farmWebURL(ctx, js))
	if format == "markdown" {
		return v.markdown(out)
	}
	return v.text(out)
}

// noReport explains why the store has no report of name: the experiment
// does not exist (bad input), or it has no result yet.
func noReport(ctx context.Context, js jetstream.JetStream, st store.Store, name string) error {
	where := st.Location(results.Key(name))
	if js == nil {
		return badInput(fmt.Errorf("report %s: no %s (unknown experiment, no result so far, or another store)", name, where))
	}
	if _, err := status.Record(ctx, js, name); errors.Is(err, status.ErrUnknownExperiment) {
		return badInput(fmt.Errorf("report %s: %w, and no report in %s", name, err, where))
	} else if err != nil {
		return err
	}
	return fmt.Errorf("experiment %s has no report yet in %s: no result so far, or the reporter writes elsewhere (see ejecta experiment status %s)", name, where, name)
}
