package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	// configFile is --config; configured says the environment and the
	// file have been applied (configure).
	configFile string
	configured bool
	// natsFlag is --nats; ownServer says natsURL is `up`'s own server.
	natsFlag  *pflag.Flag
	ownServer bool
}

// natsURLSet says the server URL was given (--nats, its variable or the
// configuration file) or is up's own, rather than --context's to say.
func (g *globals) natsURLSet() bool {
	return g.ownServer || g.natsFlag != nil && g.natsFlag.Changed
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
'ejecta experiment create'.

Every flag can also be set in the environment variable named in its help text,
or in the configuration file (` + defaultConfigFile + `, or --config): TOML whose
keys are flag names, at the top level for every command, or in a table named
after a command ([builder], [experiment.create]) for it alone. The command line
wins over the environment, which wins over the file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion().String(),
	}
	root.SetVersionTemplate("ejecta {{.Version}}\n")
	root.SetOut(os.Stdout)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", "", "configuration file (default "+defaultConfigFile+" if it exists)")
	pf.StringVar(&g.natsURL, "nats", nats.DefaultURL, "NATS server URL(s), comma-separated")
	bindEnv(pf, "nats", "EJECTA_NATS_URL")
	g.natsFlag = pf.Lookup("nats")
	pf.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", logAuto, "auto (components: console on a terminal, JSON otherwise; other commands: console), console or json")
	pf.IntVar(&g.replicas, "replicas", 1, "replicas of each stream and bucket: 1, or 3 in a cluster")
	g.auth.register(pf)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.configure(cmd) }

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
		newGrepCmd(g),
		newBuildersCmd(g),
		newWebCmd(g),
		newArchiveCmd(g),
		newExportCmd(g),
		newAuthCmd(),
		newStreamsCmd(g),
		newHealthcheckCmd(),
		newVersionCmd(),
	)
	markRuns(root)
	describeEnv(root)
	registerCompletions(g, root)
	return root
}

// markRuns makes every command's own errors runFailures unless they are bad
// input, so that exitCode tells them apart from cobra's refusals of the
// command line.
func markRuns(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error { return failure(run(cmd, args)) }
	}
	for _, sub := range c.Commands() {
		markRuns(sub)
	}
}

// groupRun is the RunE of a command that only holds subcommands: without
// one it prints its help; an unknown one is bad input, as it is for the
// root command.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return badInput(errors.New(msg))
}

// logger is component's logger on standard error (see newLogger).
func (g *globals) logger(component string) (zerolog.Logger, error) {
	return newLogger(os.Stderr, stderrIsTerminal(), g.logLevel, g.logFormat, component)
}

// cliLogger is the logger of a command a person runs and reads (experiment,
// report, tail, ...), not of a long-running component: its lines go to
// standard error in console form unless --log-format json asks otherwise,
// so that they never break into the command's output as JSON.
func (g *globals) cliLogger(component string) (zerolog.Logger, error) {
	format := g.logFormat
	if format == logAuto {
		format = logConsole
	}
	return newLogger(os.Stderr, stderrIsTerminal(), g.logLevel, format, component)
}

func (g *globals) streamsConfig() streams.Config {
	c := streams.DefaultConfig()
	c.Replicas = g.replicas
	return c
}

// connect dials NATS and makes sure every stream exists: it creates them,
// or only looks them up when running as a role (prepareStreams).
func (g *globals) connect(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return g.dial(ctx, name, log, g.prepareStreams)
}

// connectReadOnly dials NATS and checks that every stream exists, changing
// nothing whoever it runs as: the read-only commands (list, status, logs,
// report, completion, ...) must never create or update a stream, which
// would apply this CLI's settings (--replicas) over the farm's.
func (g *globals) connectReadOnly(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return g.dial(ctx, name, log, func(ctx context.Context, js jetstream.JetStream, _ streams.Security) error {
		return streams.Lookup(ctx, js)
	})
}

// dial connects to NATS, then runs prepare on the streams (within 30s).
func (g *globals) dial(ctx context.Context, name string, log zerolog.Logger, prepare func(context.Context, jetstream.JetStream, streams.Security) error) (*nats.Conn, jetstream.JetStream, error) {
	if err := g.streamsConfig().Validate(); err != nil {
		return nil, nil, badInput(fmt.Errorf("--replicas: %w", err))
	}
	opts, sec, url, err := g.natsOptions()
	if err != nil {
		return nil, nil, err
	}
	nc, err := streams.Connect(url, name, log, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := g.jetStream(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := prepare(pctx, js, sec); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
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
// format: a JetStream handle that has changed no stream, and a function
// that closes it.
func (g *globals) reader(ctx context.Context, format string) (jetstream.JetStream, func(), error) {
	if err := checkOutput(format); err != nil {
		return nil, nil, err
	}
	log, err := g.cliLogger("cli")
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := g.connectReadOnly(ctx, "ejecta-cli", log)
	if err != nil {
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// storeReader is what a command that reads the store needs: the store
// (--store, else the one the farm recorded) and the farm's JetStream, nil
// when the farm did not answer and --store was given: such a command works
// on the store alone. done releases the connection.
func (g *globals) storeReader(ctx context.Context, storeFlag string) (js jetstream.JetStream, st store.Store, done func(), err error) {
	js, done, err = g.reader(ctx, "text")
	if err != nil {
		if storeFlag == "" {
			return nil, nil, nil, fmt.Errorf("no --store given, and the farm that would say where it is did not answer: %w", err)
		}
		js, done = nil, func() {}
	}
	if st, err = openStore(ctx, readerStore(ctx, js, storeFlag)); err != nil {
		done()
		return nil, nil, nil, err
	}
	return js, st, done, nil
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
