package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// authFlags say who a command connects to NATS as, and over what.
type authFlags struct {
	user, password, credentials string
	caFile, certFile, keyFile   string
	// creds is a NATS .creds file; context a nats CLI context's name.
	creds, context string
}

func (a *authFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&a.user, "nats-user", "", "NATS user, i.e. the role to run as")
	fs.StringVar(&a.password, "nats-password", "", "NATS password; prefer --nats-credentials or the environment")
	fs.StringVar(&a.credentials, "nats-credentials", "", "a role's credentials file written by 'ejecta auth init'")
	fs.StringVar(&a.creds, "creds", "", "a NATS .creds file (user JWT and nkey seed), as the nats CLI's --creds")
	bindEnv(fs, "creds", "EJECTA_NATS_CREDS")
	fs.StringVar(&a.context, "context", "", "connect as the nats CLI's context NAME says (server, credentials, TLS; ~/.config/nats/context/NAME.json); the flags given besides it override it")
	bindEnv(fs, "context", "EJECTA_NATS_CONTEXT")
	fs.StringVar(&a.caFile, "tls-ca", "", "CA certificate that signed the NATS servers'; requires TLS")
	fs.StringVar(&a.certFile, "tls-cert", "", "client certificate for servers that verify clients")
	fs.StringVar(&a.keyFile, "tls-key", "", "client certificate's key")
}

// natsContext is the --context's, nil without one.
func (a *authFlags) natsContext() (*natsContext, error) {
	if a.context == "" {
		return nil, nil
	}
	c, err := loadNATSContext(a.context)
	if err != nil {
		return nil, badInput(fmt.Errorf("--context: %w", err))
	}
	return c, nil
}

// secretFiles are the files of these flags no build may read: the
// credentials files, the TLS client key, and the --context's.
func (a *authFlags) secretFiles() []string {
	files := []string{a.credentials, a.creds, a.keyFile}
	if c, err := a.natsContext(); err == nil && c != nil {
		files = append(files, c.secretFiles()...)
	}
	return files
}

// security resolves the flags: a --context says everything it holds; a
// way of authenticating given by flags (a user, a credentials file,
// --creds) replaces the context's, and a TLS flag its TLS setting. A
// credentials file sets user and password, which explicit flags override.
func (a *authFlags) security() (streams.Security, error) {
	var s streams.Security
	c, err := a.natsContext()
	if err != nil {
		return s, err
	}
	if c != nil {
		s = c.security()
	}
	if a.user != "" || a.password != "" || a.credentials != "" || a.creds != "" {
		s.User, s.Password, s.CredsFile, s.NKeyFile, s.Token = a.user, a.password, a.creds, "", ""
	}
	if a.caFile != "" {
		s.CAFile = a.caFile
	}
	if a.certFile != "" || a.keyFile != "" {
		s.CertFile, s.KeyFile = a.certFile, a.keyFile
	}
	if a.credentials != "" {
		c, err := auth.ReadCredentials(a.credentials)
		if err != nil {
			return s, badInput(fmt.Errorf("--nats-credentials: %w", err))
		}
		if s.User == "" {
			s.User = c.User
		}
		if s.Password == "" {
			s.Password = c.Password
		}
	}
	if err := s.Validate(); err != nil {
		return s, badInput(fmt.Errorf("--nats-user/--nats-password/--creds/--context/--tls-*: %w", err))
	}
	return s, nil
}

// jobKey is the job key a command that publishes jobs or checks results
// and upload requests uses (streams.JobKey): $EJECTA_JOB_KEY, else the
// credentials file's. A command running as a role must have one; without
// credentials and without a key, tickets are off (what says so is the
// command's to log).
func (a *authFlags) jobKey(command string) (streams.JobKey, error) {
	sec, err := a.security()
	if err != nil {
		return streams.JobKey{}, err
	}
	k, err := a.givenJobKey()
	if err == nil && k.IsZero() && sec.Authenticated() {
		who := sec.User
		if who == "" {
			who = "an authenticated user"
		}
		err = badInput(fmt.Errorf("%s as %s needs the job key: set %s, or pass --nats-credentials a producer, reporter, uploader or admin file from 'ejecta auth init', which holds it",
			command, who, auth.JobKeyEnv))
	}
	return k, err
}

// givenJobKey is the job key in $EJECTA_JOB_KEY, else in the credentials
// file; zero if neither has one.
func (a *authFlags) givenJobKey() (streams.JobKey, error) {
	if enc := os.Getenv(auth.JobKeyEnv); enc != "" {
		k, err := streams.ParseJobKey(enc)
		if err != nil {
			return streams.JobKey{}, badInput(fmt.Errorf("environment %s: %w", auth.JobKeyEnv, err))
		}
		return k, nil
	}
	if a.credentials == "" {
		return streams.JobKey{}, nil
	}
	c, err := auth.ReadCredentials(a.credentials)
	if err != nil {
		return streams.JobKey{}, badInput(fmt.Errorf("--nats-credentials: %w", err))
	}
	return c.JobKey, nil
}

// natsOptions are the connection options every command uses, and the
// server URL: --nats, else the --context's server, else the default.
func (g *globals) natsOptions() ([]nats.Option, streams.Security, string, error) {
	sec, err := g.auth.security()
	if err != nil {
		return nil, sec, "", err
	}
	opts, err := sec.Options()
	if err != nil {
		return nil, sec, "", badInput(err)
	}
	url := g.natsURL
	if c, _ := g.auth.natsContext(); c != nil && c.URL != "" && !g.natsURLSet() {
		url = c.URL
	}
	return append(opts, nats.Timeout(5*time.Second)), sec, url, nil
}

// jetStream is the JetStream handle of nc, in the --context's JetStream
// domain or API prefix if it names one.
func (g *globals) jetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	c, _ := g.auth.natsContext()
	switch {
	case c != nil && c.JSDomain != "":
		return jetstream.NewWithDomain(nc, c.JSDomain)
	case c != nil && c.JSAPIPrefix != "":
		return jetstream.NewWithAPIPrefix(nc, c.JSAPIPrefix)
	}
	return jetstream.New(nc)
}

// prepareStreams creates or updates the streams, unless the command runs as
// a role: roles may not create streams, so it only checks they exist (an
// admin creates them with `ejecta streams ensure`).
func (g *globals) prepareStreams(ctx context.Context, js jetstream.JetStream, sec streams.Security) error {
	if !sec.Authenticated() {
		return streams.Ensure(ctx, js, g.streamsConfig())
	}
	if !g.ensureStreams {
		return streams.Lookup(ctx, js)
	}
	// A refused request gets no answer, only an asynchronous error: stop
	// at that error rather than at the request's timeout.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := js.Conn().LastError(); errors.Is(err, nats.ErrPermissionViolation) {
					cancel(err)
					return
				}
			}
		}
	}()
	err := streams.Ensure(ctx, js, g.streamsConfig())
	if cause := context.Cause(ctx); errors.Is(cause, nats.ErrPermissionViolation) {
		return fmt.Errorf("ensure streams as %s: only the admin role may create or update streams: %w", sec.User, cause)
	}
	return err
}

func newAuthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Set up least-privilege NATS users, one per role",
		RunE:  groupRun,
	}
	cmd.AddCommand(newAuthInitCmd(), newAuthClusterCmd())
	return cmd
}

func newAuthClusterCmd() *cobra.Command {
	var o auth.ClusterOptions
	var t auth.ServerTLS
	var clients, routes, format string
	cmd := &cobra.Command{
		Use:   "cluster DIR --routes H1:6222,H2:6222,H3:6222 --clients H1:4222,H2:4222,H3:4222",
		Short: "Write one nats-server config per cluster node, with the users of 'auth init DIR'",
		Long: `Write DIR/node-<i>.conf for every node of a NATS cluster: its client and route
addresses, JetStream, authenticated routes to every other node, and the users
'ejecta auth init DIR' wrote. Start node i with 'nats-server -c node-<i>.conf' on
its host, then run 'ejecta streams ensure --replicas 3' as admin: every stream
and bucket then survives the loss of any one node.

With --server-tls-cert, --server-tls-key and --server-tls-ca every node requires
TLS and a verified client certificate from clients, and the routes between
nodes run over TLS with certificates verified both ways. The paths are read on
each node's host: give each node its own certificate at that path, naming its
route host and allowing both server and client authentication.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput(fmt.Errorf("auth cluster: want exactly one DIR, have %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir, o.Clients, o.Routes = args[0], splitList(clients), splitList(routes)
			if t != (auth.ServerTLS{}) {
				o.TLS = &t
			}
			if err := checkOutput(format); err != nil {
				return err
			}
			if err := auth.Cluster(o); err != nil {
				return badInput(fmt.Errorf("auth cluster: %w", err))
			}
			if format == "json" {
				var files []string
				for i := range o.Routes {
					files = append(files, auth.NodeConfigFile(i+1))
				}
				return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": o.Dir, "files": files})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s to %s in %s\n", auth.NodeConfigFile(1), auth.NodeConfigFile(len(o.Routes)), o.Dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "ejecta", "cluster name")
	f.StringVar(&routes, "routes", "", "route address HOST:PORT of every node, comma-separated (at least 3)")
	f.StringVar(&clients, "clients", "", "client address HOST:PORT of every node, in the same order")
	f.StringVar(&o.StoreDir, "store-dir", "/var/lib/nats/jetstream", "JetStream storage directory on each node")
	f.StringVar(&t.CertFile, "server-tls-cert", "", "each node's certificate (server and client use); with key and CA, clients and routes require TLS with verified certificates")
	f.StringVar(&t.KeyFile, "server-tls-key", "", "each node's certificate key")
	f.StringVar(&t.CAFile, "server-tls-ca", "", "CA that signs the nodes' and the clients' certificates")
	bindEnv(f, "name", "EJECTA_CLUSTER_NAME")
	bindEnv(f, "routes", "EJECTA_CLUSTER_ROUTES")
	bindEnv(f, "clients", "EJECTA_CLUSTER_CLIENTS")
	bindEnv(f, "store-dir", "EJECTA_NATS_STORE_DIR")
	outputFlag(cmd, &format)
	return cmd
}

func newAuthInitCmd() *cobra.Command {
	var o auth.Options
	var t auth.ServerTLS
	var format string
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a nats-server config and one credentials file per role",
		Long: `Write a nats-server configuration and one credentials file per role into DIR.

Roles: producer (experiment create), builder, uploader, reporter, viewer (web,
tail, logs, status, builders) and admin (everything, and the only role that
creates streams: 'ejecta streams ensure'). Each role is a NATS user whose
permissions allow only what that component does.

  DIR/nats-server.conf  start the server with 'nats-server -c DIR/nats-server.conf'
  DIR/users.conf        the users alone (bcrypt hashes), included by the above
  DIR/<role>.env        EJECTA_NATS_USER and EJECTA_NATS_PASSWORD of one role, mode 0600:
                        pass it with --nats-credentials, or as an EnvironmentFile;
                        producer, reporter, uploader and admin also get EJECTA_JOB_KEY

The job key ties results and upload requests to the builder handed their job
(job tickets). --force writes new passwords and keeps the job key: replacing it
(--new-job-key) makes results of jobs queued under the old one refused, so do
it between experiments.

With --builders a,b,... each builder host gets a user of its own,
DIR/builder-<name>.env, instead of DIR/builder.env for all: a fetched job, its
ticket included, is delivered to the fetching connection's inbox, which only
that builder's user may read.

With --server-tls-cert, --server-tls-key and --server-tls-ca the server requires
TLS and a client certificate signed by that CA.`,
		Example: `  ejecta auth init /etc/ejecta/nats
  nats-server -c /etc/ejecta/nats/nats-server.conf &
  ejecta streams ensure --nats-credentials /etc/ejecta/nats/admin.env
  ejecta builder --nats-credentials /etc/ejecta/nats/builder.env`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput(fmt.Errorf("auth init: want exactly one DIR, have %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return badInput(fmt.Errorf("DIR: %w", err))
			}
			o.Dir = dir
			if t != (auth.ServerTLS{}) {
				o.TLS = &t
			}
			if o.StoreDir == "" {
				o.StoreDir = filepath.Join(dir, "jetstream")
			}
			if err := checkOutput(format); err != nil {
				return err
			}
			if err := auth.Init(o); err != nil {
				return badInput(fmt.Errorf("auth init: %w", err))
			}
			files := []string{auth.ServerConfigFile, auth.UsersFile}
			for _, u := range o.Users() {
				files = append(files, auth.UserCredentialsFile(u))
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": dir, "files": files})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s in %s\n", strings.Join(files, ", "), dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "0.0.0.0:4222", "the server's client address")
	f.StringVar(&o.StoreDir, "store-dir", "", "JetStream storage directory (default DIR/jetstream)")
	f.StringVar(&t.CertFile, "server-tls-cert", "", "server certificate; with key and CA the server requires verified client certificates")
	f.StringVar(&t.KeyFile, "server-tls-key", "", "server certificate's key")
	f.StringVar(&t.CAFile, "server-tls-ca", "", "CA that signs client certificates")
	f.BoolVar(&o.Force, "force", false, "replace existing files: new passwords for every role (the job key is kept)")
	f.StringSliceVar(&o.Builders, "builders", nil, "builder hosts, each given a user of its own (builder-NAME.env) whose replies no other builder can read, instead of one builder user for all")
	f.BoolVar(&o.NewJobKey, "new-job-key", false, "with --force, also a new job key: results and upload requests of jobs queued under the old one are then refused")
	bindEnv(f, "listen", "EJECTA_NATS_LISTEN")
	bindEnv(f, "store-dir", "EJECTA_NATS_STORE_DIR")
	bindEnv(f, "force", "EJECTA_AUTH_FORCE")
	outputFlag(cmd, &format)
	return cmd
}

func newStreamsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "Manage ejecta's streams and buckets",
		RunE:  groupRun,
	}
	var wait time.Duration
	var format string
	ensure := &cobra.Command{
		Use:   "ensure",
		Short: "Create or update every stream, bucket and shared consumer (admin)",
		Long: `Create or update every stream, bucket and shared consumer with --replicas.

Without credentials every component does this at start-up. Components that
run as a role (--nats-user or --nats-credentials) only check that the streams
exist, so an admin runs this once per deployment and after each upgrade.

--wait retries while NATS does not answer (or a cluster has no JetStream
leader yet), as a deployment's first step started beside the servers needs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(format); err != nil {
				return err
			}
			log, err := g.cliLogger("streams")
			if err != nil {
				return err
			}
			g.ensureStreams = true
			ctx, connect := cmd.Context(), g.connect
			if wait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, wait)
				defer cancel()
				connect = g.connectWait
			}
			nc, _, err := connect(ctx, "ejecta-streams-ensure", log)
			if err != nil {
				return err
			}
			nc.Close()
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"replicas": g.replicas, "streams": streams.Streams(), "buckets": streams.Buckets()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "streams and buckets ensured with %d replicas\n", g.replicas)
			return nil
		},
	}
	ensure.Flags().DurationVar(&wait, "wait", 0, "retry for this long while NATS does not answer; 0: fail at once")
	bindEnv(ensure.Flags(), "wait", "EJECTA_STREAMS_WAIT")
	outputFlag(ensure, &format)
	cmd.AddCommand(ensure)
	return cmd
}
