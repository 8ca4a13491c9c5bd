package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/spf13/cobra"
)

func newBuildersCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "builders [ID...]",
		Short: "List live builders: version, slots, running builds and for how long, toolchains, last heartbeat",
		Long: `List live builders: version, slots, running builds and for how long, toolchains,
last heartbeat; with IDs, those builders only. A builder that stops renewing
its heartbeat disappears after ` + streams.HeartbeatTTL.String() + `.`,
		Args: func(_ *cobra.Command, args []string) error {
			for _, id := range args {
				if err := streams.ValidateBuilderID(id); err != nil {
					return badInput(err)
				}
			}
			return nil
		},
		ValidArgsFunction: completeBuilders(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			js, done, err := g.reader(cmd.Context(), format)
			if err != nil {
				return err
			}
			defer done()
			hbs, err := status.Builders(cmd.Context(), js)
			if err != nil {
				return err
			}
			if len(args) > 0 {
				hbs = slices.DeleteFunc(hbs, func(hb streams.Heartbeat) bool { return !slices.Contains(args, hb.ID) })
			}
			if format == "json" {
				return writeJSONList(cmd.OutOrStdout(), hbs)
			}
			return printBuilders(cmd.OutOrStdout(), hbs, time.Now())
		},
	}
	outputFlag(cmd, &format)
	return cmd
}

func printBuilders(w io.Writer, hbs []streams.Heartbeat, now time.Time) error {
	if len(hbs) == 0 {
		_, err := fmt.Fprintln(w, "no live builder")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILDER\tHOST\tVERSION\tSLOTS\tRUNNING\tFREE DISK\tTOOLCHAINS\tHEARTBEAT\tUSER\tSTATE")
	for _, hb := range hbs {
		state := "taking jobs"
		if hb.Paused != "" {
			state = "paused: " + hb.Paused
		}
		version := hb.Version
		if version == "" {
			version = "-" // a builder from before heartbeats said
		}
		// The NATS user the heartbeat was written as: the one thing in it a
		// builder cannot claim.
		user := hb.Sender
		if user == "" {
			user = "-" // a builder from before heartbeats were kept by user
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.1f GiB\t%s\t%s ago\t%s\t%s\n", hb.ID, hb.Host, printable(version), hb.Slots, len(hb.Running),
			float64(hb.FreeDiskBytes)/(1<<30), strings.Join(hb.Toolchains, ","), now.Sub(hb.Updated).Round(time.Second), user, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, hb := range hbs {
		for _, r := range hb.Running {
			fmt.Fprintf(w, "  %s: %s attempt %d, running for %s\n", hb.ID, r.BuildKey, r.Attempt, now.Sub(r.Started).Round(time.Second))
		}
	}
	return nil
}
