package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/web"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultWebAddr is where `ejecta web` and `ejecta up` serve the UI unless
// told otherwise: loopback, so that a UI nobody meant to publish is not
// reachable from the network.
const defaultWebAddr = "127.0.0.1:8080"

func newWebCmd(g *globals) *cobra.Command {
	var (
		addr, storeURL, metricsAddr string
		wf                          webFlags
	)
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
			wcfg, err := wf.config(addr)
			if err != nil {
				return err
			}
			if err := checkMetricsAddr(metricsAddr); err != nil {
				return err
			}
			nc, js, err := g.connectWait(cmd.Context(), "ejecta-web", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			st, err := openStoreWait(cmd.Context(), readerStore(cmd.Context(), js, storeURL), log)
			if err != nil {
				return err
			}
			reg := metrics.NewRegistry()
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st))
			wcfg.Metrics, wcfg.Health = reg, health
			srv, err := web.New(wcfg, js, st, log)
			if err != nil {
				return badInput(err)
			}
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, srv.Run, metricsGuard(wcfg, log), metrics.WithHealth(health))
		},
	}
	cmd.Flags().StringVar(&addr, "http", defaultWebAddr, "address to serve on: loopback by default; :8080 for every interface")
	readerStoreFlag(cmd.Flags(), &storeURL)
	metricsFlag(cmd.Flags(), &metricsAddr, " (they are on --http's /metrics too)")
	wf.register(cmd.Flags())
	return cmd
}

// webFlags configure the web UI, of `ejecta web` and of `ejecta up`.
type webFlags struct {
	maxStreams, maxStreamsPerClient int
	streamLifetime                  time.Duration
	trustForwardedFor, cookieSecure bool
	tokenFile                       string
}

func (f *webFlags) register(fs *pflag.FlagSet) {
	f.maxStreams = 256
	fs.Var(boundedInt{v: &f.maxStreams, min: 1, max: 1 << 20}, "max-streams",
		"live log streams and log ranges the web UI serves at once; past it a log page's stream or range is refused (429) until one ends")
	f.maxStreamsPerClient = 16
	fs.Var(boundedInt{v: &f.maxStreamsPerClient, min: 1, max: 1 << 20}, "max-streams-per-client",
		"live log streams and log ranges the web UI serves to one client address (an IPv6 /64) at once")
	fs.StringVar(&f.tokenFile, "access-token-file", "",
		"file holding the token every page, log stream and /metrics then requires (also on --metrics-addr): browsers open a page once with ?token=TOKEN and keep a cookie, scripts send 'Authorization: Bearer TOKEN'; empty: no token")
	fs.DurationVar(&f.streamLifetime, "max-stream-lifetime", 30*time.Minute,
		"end a live log stream after this long, so that no page holds one for days; the browser reconnects by itself and carries on after the last line it got")
	fs.BoolVar(&f.trustForwardedFor, "trust-forwarded-for", false,
		"count streams per client by the last X-Forwarded-For address, which the reverse proxy in front of the web UI appends, and take the proxy's X-Forwarded-Proto: https as HTTPS (the token's cookie is then Secure); only behind such a proxy, as clients can write any address there")
	fs.BoolVar(&f.cookieSecure, "cookie-secure", false,
		"mark the access token's cookie Secure (sent over HTTPS only) whatever the request says: the UI is served over HTTPS by a reverse proxy in front of it")
	for _, name := range []string{"max-streams", "max-streams-per-client", "max-stream-lifetime", "trust-forwarded-for", "cookie-secure"} {
		bindEnv(fs, name, "EJECTA_WEB_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	bindEnv(fs, "access-token-file", "EJECTA_WEB_TOKEN_FILE")
}

// config is the web UI's configuration, serving on addr, checked; an error
// names the flag. An empty addr (`ejecta up --http ""`) serves no UI.
func (f *webFlags) config(addr string) (web.Config, error) {
	cfg := web.Config{
		Addr:       addr,
		MaxStreams: f.maxStreams, MaxStreamsPerClient: f.maxStreamsPerClient,
		MaxStreamLifetime: f.streamLifetime,
		TrustForwardedFor: f.trustForwardedFor,
		CookieSecure:      f.cookieSecure,
	}
	if f.tokenFile != "" {
		tok, err := web.ReadTokenFile(f.tokenFile)
		if err != nil {
			return cfg, badInput(fmt.Errorf("--access-token-file: %w", err))
		}
		cfg.AccessToken = tok
	}
	if f.streamLifetime <= 0 {
		return cfg, badInput(fmt.Errorf("--max-stream-lifetime %s: want a positive duration", f.streamLifetime))
	}
	if addr == "" {
		return cfg, nil
	}
	if err := cfg.Validate(); err != nil {
		return cfg, badInput(fmt.Errorf("--http: %w", err))
	}
	return cfg, nil
}

// metricsGuard requires the web UI's access token on --metrics-addr too:
// the metrics name every experiment, and a token that guards them on one
// address only would guard nothing.
func metricsGuard(cfg web.Config, log zerolog.Logger) metrics.ServeOption {
	return metrics.Wrap(web.RequireToken(cfg.AccessToken, log))
}
