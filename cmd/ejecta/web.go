package main

import (
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/web"
	"github.com/spf13/cobra"
)

// defaultWebAddr is where `ejecta web` and `ejecta up` serve the UI unless
// told otherwise: loopback, so that a UI nobody meant to publish is not
// reachable from the network.
const defaultWebAddr = "127.0.0.1:8080"

func newWebCmd(g *globals) *cobra.Command {
	var addr, storeURL, metricsAddr string
	cmd := &cobra.Command{
		Use:   "web",
		Short: "Serve the read-only web UI: experiments, builders, live build logs",
		Long: `Serve the read-only web UI: experiments with their progress, one experiment's
builds, the live builders, and each build's log with its colours, streamed live
while the build runs. No page changes anything. 'ejecta up' serves it too.

It listens on 127.0.0.1:8080, this machine only, unless --http says otherwise:
--http :8080 serves every interface.

Prometheus metrics are served on /metrics beside the pages, and also on
--metrics-addr when it is set.`,
		Example: `  ejecta web --store 's3://ejecta-logs?endpoint=minio:9000&secure=false'
  ejecta web --http :8080    # every interface, not only this machine`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("web")
			if err != nil {
				return err
			}
			if err := (web.Config{Addr: addr}).Validate(); err != nil {
				return badInput(err)
			}
			if err := checkMetricsAddr(metricsAddr); err != nil {
				return err
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
			reg := metrics.NewRegistry()
			srv, err := web.New(web.Config{Addr: addr, Metrics: reg}, js, st, log)
			if err != nil {
				return badInput(err)
			}
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, srv.Run)
		},
	}
	cmd.Flags().StringVar(&addr, "http", envOr("EJECTA_HTTP", defaultWebAddr), "address to serve on: loopback by default; :8080 for every interface (env EJECTA_HTTP)")
	storeFlag(cmd.Flags(), &storeURL, "file:///var/lib/ejecta/store")
	metricsFlag(cmd.Flags(), &metricsAddr, " (they are on --http's /metrics too)")
	return cmd
}
