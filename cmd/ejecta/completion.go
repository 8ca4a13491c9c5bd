package main

import (
	"context"
	"time"

	"github.com/ejecta-build/ejecta/status"
	"github.com/spf13/cobra"
)

// completeExperiments completes a first argument with the experiments on
// the NATS server; it completes nothing when the server does not answer
// within a second, rather than making the shell wait.
func completeExperiments(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
		defer cancel()
		js, done, err := g.reader(ctx, "text")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer done()
		exps, err := status.List(ctx, js)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, len(exps))
		for i, e := range exps {
			names[i] = e.Name
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
