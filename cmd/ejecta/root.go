package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// globals are the flags every subcommand shares.
type globals struct {
	natsURL   string
	logLevel  string
	logFormat string
	replicas  int
	out       io.Writer
	auth      authFlags
	// ensureStreams makes connect create streams even as a role (admin).
	ensureStreams bool
}

func newRootCmd() *cobra.Command {
	g := &globals{out: os.Stdout}
	root := &cobra.Command{
		Use:   "ejecta",
		Short: "A build farm for ecosystem-wide Rust compiler regression testing",
		Long: `ejecta builds every selected crate with two toolchains and reports what regressed.

Jobs, live logs and results travel over NATS JetStream; builds run in containerd
sandboxes; logs and reports are kept in a directory or an S3 bucket.

Start everything on one machine with 'ejecta up', then create an experiment with
'ejecta experiment create'. Every flag can also be set in the environment
variable named in its help text.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetOut(os.Stdout)
	pf := root.PersistentFlags()
	pf.StringVar(&g.natsURL, "nats", envOr("EJECTA_NATS_URL", nats.DefaultURL), "NATS server URL(s), comma-separated (env EJECTA_NATS_URL)")
	pf.StringVar(&g.logLevel, "log-level", envOr("EJECTA_LOG_LEVEL", "info"), "debug, info, warn or error (env EJECTA_LOG_LEVEL)")
	pf.StringVar(&g.logFormat, "log-format", envOr("EJECTA_LOG_FORMAT", logAuto), "auto (console on a terminal, JSON otherwise), console or json (env EJECTA_LOG_FORMAT)")
	pf.IntVar(&g.replicas, "replicas", envInt("EJECTA_REPLICAS", 1), "replicas of each stream and bucket: 1, or 3 in a cluster (env EJECTA_REPLICAS)")
	g.auth.register(pf)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkEnv(cmd.Flags()) }

	root.AddCommand(
		newUpCmd(g),
		newBuilderCmd(g),
		newUploaderCmd(g),
		newReporterCmd(g),
		newExperimentCmd(g),
		newReportCmd(g),
		newDeadLettersCmd(g),
		newTailCmd(g),
		newLogsCmd(g),
		newBuildersCmd(g),
		newWebCmd(g),
		newArchiveCmd(g),
		newAuthCmd(),
		newStreamsCmd(g),
		newHealthcheckCmd(),
	)
	return root
}

// logger is component's logger on standard error (see newLogger).
func (g *globals) logger(component string) (zerolog.Logger, error) {
	return newLogger(os.Stderr, stderrIsTerminal(), g.logLevel, g.logFormat, component)
}

func (g *globals) streamsConfig() streams.Config {
	c := streams.DefaultConfig()
	c.Replicas = g.replicas
	return c
}

// connect dials NATS and makes sure every stream exists: it creates them,
// or only looks them up when running as a role (prepareStreams).
func (g *globals) connect(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if err := g.streamsConfig().Validate(); err != nil {
		return nil, nil, badInput(fmt.Errorf("--replicas: %w", err))
	}
	opts, sec, err := g.natsOptions()
	if err != nil {
		return nil, nil, err
	}
	nc, err := streams.Connect(g.natsURL, name, log, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := g.prepareStreams(ectx, js, sec); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	var n int
	if v := os.Getenv(name); v != "" {
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n
		}
	}
	return def
}

// envBool is the boolean in environment variable name (1, true, 0, false,
// ...), or def when it is unset or not one; checkEnv reports the latter.
func envBool(name string, def bool) bool {
	if b, err := strconv.ParseBool(os.Getenv(name)); err == nil {
		return b
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// reader opens what a read-only command needs after checking its --output
// format: a JetStream handle, and a function that closes it.
func (g *globals) reader(ctx context.Context, format string) (jetstream.JetStream, func(), error) {
	if err := checkOutput(format); err != nil {
		return nil, nil, err
	}
	log, err := g.logger("cli")
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := g.connect(ctx, "ejecta-cli", log)
	if err != nil {
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// experimentArg accepts exactly one argument, a valid experiment name.
func experimentArg(command string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return badInput(fmt.Errorf("%s: want exactly one experiment NAME, have %d arguments", command, len(args)))
		}
		return badInput(streams.ValidateExperimentName(args[0]))
	}
}
