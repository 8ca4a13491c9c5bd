package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
	"github.com/ejecta-build/ejecta/web"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func newUpCmd(g *globals) *cobra.Command {
	var (
		dataDir  string
		host     string
		port     int
		storeURL string
		httpAddr string
		metAddr  string
		webURL   string
		keepLogs string
		bf       builderFlags
		wf       webFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run everything in one process: embedded NATS, a builder, an uploader, the reporter",
		Long: `Run everything in one process: an embedded NATS JetStream server, one builder,
one uploader and the reporter, with logs and reports stored under --data.

The NATS server listens on --nats-port (4222 by default) so 'ejecta experiment',
'ejecta report' and the stock 'nats' CLI connect to it without flags. Ctrl-C stops
cleanly; a second 'ejecta up' on the same --data resumes where it stopped.

Every component's Prometheus metrics, and the streams' state, are served from one
registry on the web UI's /metrics (and on --metrics-addr when it is set).

The reporter and the uploader check job tickets with the job key in
EJECTA_JOB_KEY, else the one kept in --data/job.key (made on the first start).
Give 'experiment create' the same key (EJECTA_JOB_KEY=$(cat DIR/job.key)) and
the experiment's results count only when signed by the builder handed the job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("up")
			if err != nil {
				return err
			}
			if dataDir, err = filepath.Abs(dataDir); err != nil {
				return badInput(fmt.Errorf("--data: %w", err))
			}
			if port < 0 || port > 65535 {
				return badInput(fmt.Errorf("--nats-port %d: want 0 to 65535", port))
			}
			wcfg, err := wf.config(httpAddr)
			if err != nil {
				return err
			}
			if err := checkMetricsAddr(metAddr); err != nil {
				return err
			}
			if err := checkWebURL(webURL); err != nil {
				return err
			}
			keep, err := parseKeepLogs(keepLogs)
			if err != nil {
				return err
			}
			if storeURL == "" {
				storeURL = "file://" + filepath.Join(dataDir, "store")
			}
			if !cmd.Flags().Changed("work-dir") {
				bf.workDir = filepath.Join(dataDir, "work")
			}
			bcfg, err := bf.config()
			if err != nil {
				return err
			}
			key, err := upJobKey(&g.auth, dataDir)
			if err != nil {
				return err
			}
			ns, err := startEmbeddedNATS(filepath.Join(dataDir, "nats"), host, port)
			if err != nil {
				return err
			}
			defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
			g.natsURL, g.ownServer = ns.ClientURL(), true
			g.ensureStreams = true // its own server: create the streams even if credentials are set
			log.Info().Str("url", g.natsURL).Str("data", dataDir).Str("store", storeURL).Msg("embedded NATS server ready")

			ctx := cmd.Context()
			st, err := openStore(ctx, storeURL)
			if err != nil {
				return err
			}
			nc, js, err := g.connect(ctx, "ejecta-up", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			if webURL == "" {
				webURL = upWebURL(httpAddr)
			}
			recordEndpoints(ctx, js, log, "up", map[string]string{streams.EndpointStore: storeURL, streams.EndpointWeb: webURL})

			// One registry for every component: the web UI serves it.
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewJetStream(js, log), metrics.NewDisk(bcfg.WorkDir, dataDir))
			blog, _ := g.logger("builder")
			// The data dir holds the NATS store (every job and log), the
			// store and the work dir: builds see their own job dir only.
			b, sb, err := bf.start(ctx, bcfg, nc, blog, reg, append(g.auth.secretFiles(), dataDir))
			if err != nil {
				return err
			}
			defer sb.Close()
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st),
				metrics.Check{Name: "containerd", Probe: sb.Ping})
			ulog, _ := g.logger("uploader")
			u, err := uploader.New(uploader.Config{Name: "up", Metrics: reg, JobKey: key}, nc, st, ulog)
			if err != nil {
				return err
			}
			rlog, _ := g.logger("reporter")
			r, err := reporter.New(reporter.Config{Metrics: reg, JobKey: key, KeepLogs: keep, WebURL: webURL}, nc, st, rlog)
			if err != nil {
				return err
			}
			var metListener net.Listener
			if metAddr != "" {
				if metListener, err = metrics.Listen(metAddr); err != nil {
					return fmt.Errorf("--metrics-addr: %w", err)
				}
			}
			eg, ctx := errgroup.WithContext(ctx)
			eg.Go(func() error { return b.Run(ctx) })
			eg.Go(func() error { return u.Run(ctx) })
			eg.Go(func() error { return r.Run(ctx) })
			if httpAddr != "" {
				wlog, _ := g.logger("web")
				wcfg.Metrics, wcfg.Health = reg, health
				w, err := web.New(wcfg, js, st, wlog)
				if err != nil {
					return err
				}
				eg.Go(func() error { return w.Run(ctx) })
			}
			if metListener != nil {
				eg.Go(func() error {
					return metrics.Serve(ctx, metListener, reg, log, metricsGuard(wcfg, log), metrics.WithHealth(health))
				})
			}
			log.Info().Int("slots", bf.slots).Msg("ejecta is up; stop with Ctrl-C")
			err = eg.Wait()
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			log.Info().Msg("ejecta stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", ".data", "directory for the NATS store, job dirs, the job key and (by default) the object store")
	f.StringVar(&host, "nats-host", "127.0.0.1", "address the embedded NATS server listens on")
	f.IntVar(&port, "nats-port", 4222, "client port of the embedded NATS server (0: any free port)")
	storeFlag(f, &storeURL, "")
	f.Lookup("store").Usage += " (default: file://DATA/store)"
	f.StringVar(&httpAddr, "http", defaultWebAddr, "address of the web UI and its /metrics (loopback by default; :8080 for every interface); empty: no web UI")
	metricsFlag(f, &metAddr, ", besides the web UI's /metrics")
	webURLFlag(f, &webURL, "")
	keepLogsFlag(f, &keepLogs)
	f.Lookup("web-url").Usage += " (default: http:// and --http, with this host's name if it serves every interface)"
	bf.register(f, "")
	wf.register(f)
	return cmd
}

// upJobKey is the job key of `ejecta up`'s reporter and uploader: the one
// given ($EJECTA_JOB_KEY, the credentials file), else the one kept in the
// data directory, made on its first start (mode 0600), so that a restart
// still checks the results of jobs queued before it. Jobs carry tickets
// when whoever creates the experiment has the same key.
func upJobKey(a *authFlags, dataDir string) (streams.JobKey, error) {
	key, err := a.givenJobKey()
	if err != nil || !key.IsZero() {
		return key, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return streams.JobKey{}, fmt.Errorf("--data: %w", err)
	}
	key, _, err = auth.LoadOrCreateJobKey(filepath.Join(dataDir, auth.JobKeyFile))
	if err != nil {
		return streams.JobKey{}, fmt.Errorf("--data: %w", err)
	}
	return key, nil
}

// startEmbeddedNATS starts a JetStream-enabled server storing under dir.
func startEmbeddedNATS(dir, host string, port int) (*server.Server, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "ejecta-up", Host: host, Port: port,
		JetStream: true, StoreDir: dir, NoSigs: true, MaxPayload: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats on %s:%d not ready after 30s (port in use? try --nats-port)", host, port)
	}
	return ns, nil
}
