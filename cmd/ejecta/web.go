package main

import (
	"github.com/ejecta-build/ejecta/web"
	"github.com/spf13/cobra"
)

func newWebCmd(g *globals) *cobra.Command {
	var addr, storeURL string
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve the read-only web UI: experiments, builders, live build logs",
		Long: `Serve the read-only web UI: experiments with their progress, one experiment's
builds, the live builders, and each build's log with its colours, streamed live
while the build runs. No page changes anything. 'ejecta up' serves it too.`,
		Example: `  ejecta web --http :8080 --store 's3://ejecta-logs?endpoint=minio:9000&secure=false'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("web")
			if err != nil {
				return err
			}
			if err := (web.Config{Addr: addr}).Validate(); err != nil {
				return badInput(err)
			}
			st, err := openStore(cmd.Context(), storeURL)
			if err != nil {
				return err
			}
			nc, js, err := g.connect(cmd.Context(), "ejecta-web", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			srv, err := web.New(web.Config{Addr: addr}, js, st, log)
			if err != nil {
				return badInput(err)
			}
			return srv.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&addr, "http", envOr("EJECTA_HTTP", ":8080"), "address to serve on, e.g. :8080 or 127.0.0.1:8080 (env EJECTA_HTTP)")
	storeFlag(cmd.Flags(), &storeURL, "file:///var/lib/ejecta/store")
	return cmd
}
