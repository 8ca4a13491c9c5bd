package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ejecta-build/ejecta/builder"
	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/uploader"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// builderFlags configure one builder process.
type builderFlags struct {
	id         string
	slots      int
	workDir    string
	containerd string
	namespace  string
	memory     string
	timeout    time.Duration
	noOutput   time.Duration
	minFree    string
	rootfs     string
	tmpSize    string
	maxLog     string
	cacheDir   string
	cacheSize  string
	tcPaths    []string
	hide       []string
	hostRoot   string
	buildUID   uint
	jobDisk    string
	logWindow  int
	// sandboxRetry is how long a job whose sandbox failed waits to be
	// delivered again.
	sandboxRetry time.Duration
	drainGrace   time.Duration // only `ejecta builder` sets it; `up` stops at once
}

func (f *builderFlags) register(fs *pflag.FlagSet, defaultWorkDir string) {
	host, _ := os.Hostname()
	fs.StringVar(&f.id, "builder-id", envOr("EJECTA_BUILDER_ID", sanitizeID(host)), "builder id, unique per host (env EJECTA_BUILDER_ID)")
	fs.IntVar(&f.slots, "slots", envInt("EJECTA_SLOTS", runtime.NumCPU()), "builds run at once (env EJECTA_SLOTS)")
	fs.StringVar(&f.workDir, "work-dir", envOr("EJECTA_WORK_DIR", defaultWorkDir), "directory for job directories (env EJECTA_WORK_DIR)")
	fs.StringVar(&f.containerd, "containerd", envOr("EJECTA_CONTAINERD", "/run/containerd/containerd.sock"), "containerd socket (env EJECTA_CONTAINERD)")
	fs.StringVar(&f.namespace, "containerd-namespace", envOr("EJECTA_CONTAINERD_NAMESPACE", "ejecta"), "containerd namespace (env EJECTA_CONTAINERD_NAMESPACE)")
	fs.StringVar(&f.memory, "memory", envOr("EJECTA_MEMORY", "1536MiB"), "memory limit per build, e.g. 1536MiB or 2GiB (env EJECTA_MEMORY)")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "wall-clock limit per build attempt, unless the experiment sets one")
	fs.DurationVar(&f.noOutput, "no-output-timeout", 5*time.Minute, "kill a build that prints nothing for this long, unless the experiment sets one")
	fs.StringVar(&f.rootfs, "rootfs", envOr("EJECTA_ROOTFS", "host"), "what builds see as /, read-only: host (the host's root) or image:PATH_OR_REF (an OCI/docker image tarball to import, or an image already in containerd) (env EJECTA_ROOTFS)")
	fs.StringVar(&f.tmpSize, "tmp-size", envOr("EJECTA_TMP_SIZE", "512MiB"), "size of each build's private /tmp (a tmpfs, counted against its memory), unless the experiment sets one (env EJECTA_TMP_SIZE)")
	fs.StringSliceVar(&f.tcPaths, "toolchain-path", splitList(os.Getenv("EJECTA_TOOLCHAIN_PATHS")), "a toolchain directory (bin/rustc, bin/cargo, lib/) this builder offers to experiments that name it by path, e.g. a compiler built from a branch; repeat or comma-separate (env EJECTA_TOOLCHAIN_PATHS)")
	fs.StringVar(&f.maxLog, "max-log-bytes", envOr("EJECTA_MAX_LOG_BYTES", "64MiB"), "task output a build log keeps, e.g. 64MiB: past it the log keeps only the last part of each step's output (at most 1MiB) after a line saying how much was left out; 0 for no cap (env EJECTA_MAX_LOG_BYTES)")
	fs.StringVar(&f.cacheDir, "crate-cache-dir", os.Getenv("EJECTA_CRATE_CACHE_DIR"), "where .crate files downloaded from a remote registry (--crate-source sparse+https://...) are kept, checked against the index's sha256; one builder per directory (default WORK_DIR/crate-cache-ID; env EJECTA_CRATE_CACHE_DIR)")
	fs.StringVar(&f.cacheSize, "crate-cache-size", envOr("EJECTA_CRATE_CACHE_SIZE", "4GiB"), "bound on the crate download cache, e.g. 4GiB: past it the least recently used files are removed (env EJECTA_CRATE_CACHE_SIZE)")
	fs.StringSliceVar(&f.hide, "sandbox-hide", splitList(os.Getenv("EJECTA_SANDBOX_HIDE")), "a host path builds must not see, besides the work dir, this builder's credentials and "+strings.Join(sandbox.DefaultHidden, ", ")+"; repeat or comma-separate (env EJECTA_SANDBOX_HIDE)")
	fs.StringVar(&f.hostRoot, "host-root", envOr("EJECTA_HOST_ROOT", "/"), "where this builder sees the host's root: / unless it runs in a container that mounts the host's root elsewhere read-only (compose.yaml: /host), so that what builds must not see is read from the host; job dirs, toolchains and the crate source must still be at their host paths (env EJECTA_HOST_ROOT)")
	fs.StringVar(&f.jobDisk, "job-disk", envOr("EJECTA_JOB_DISK", "20GiB"), "disk space one build may fill in its job dir, e.g. 20GiB: past it the build is killed and fails with no-space; 0 for no bound (env EJECTA_JOB_DISK)")
	fs.UintVar(&f.buildUID, "build-uid", uint(envInt("EJECTA_BUILD_UID", builder.DefaultBuildUID)), "first of the unprivileged user ids builds run as, one per slot (uid and gid BUILD_UID+slot); pick a range no real user or other builder on the host has (env EJECTA_BUILD_UID)")
	f.logWindow = envInt("EJECTA_LOG_WINDOW", builder.DefaultLogWindow)
	fs.Var(boundedInt{v: &f.logWindow, min: 1, max: 4096}, "log-window", "log chunks of one build published ahead of their acknowledgements, 1 to 4096; when that many are in flight the build's output waits; 1 publishes each chunk synchronously (env EJECTA_LOG_WINDOW)")
	fs.DurationVar(&f.sandboxRetry, "sandbox-retry-delay", envDuration("EJECTA_SANDBOX_RETRY_DELAY", builder.DefaultSandboxRetryDelay),
		"when the sandbox itself fails (containerd restarted, a shim died), store the attempt's log, record no result and build the job again after this long; its last attempt reports the error (env EJECTA_SANDBOX_RETRY_DELAY)")
	fs.StringVar(&f.minFree, "min-free-disk", envOr("EJECTA_MIN_FREE_DISK", "2GiB"), "take no new jobs while the work dir's disk has less free, e.g. 2GiB; 0 to disable (env EJECTA_MIN_FREE_DISK)")
}

// config reads the flags into a builder configuration and checks it, so a
// bad flag is reported before anything is connected.
func (f *builderFlags) config() (builder.Config, error) {
	mem, err := parseBytes(f.memory)
	if err != nil {
		return builder.Config{}, badInput(fmt.Errorf("--memory: %w", err))
	}
	minFree := int64(-1) // "0": the disk guard is off
	if strings.TrimSpace(f.minFree) != "0" {
		if minFree, err = parseBytes(f.minFree); err != nil {
			return builder.Config{}, badInput(fmt.Errorf("--min-free-disk: %w", err))
		}
	}
	maxLog := int64(-1) // "0": no cap
	if strings.TrimSpace(f.maxLog) != "0" {
		if maxLog, err = parseBytes(f.maxLog); err != nil {
			return builder.Config{}, badInput(fmt.Errorf("--max-log-bytes: %w", err))
		}
	}
	tmpSize, err := parseBytes(f.tmpSize)
	if err != nil {
		return builder.Config{}, badInput(fmt.Errorf("--tmp-size: %w", err))
	}
	cacheSize, err := parseBytes(f.cacheSize)
	if err != nil {
		return builder.Config{}, badInput(fmt.Errorf("--crate-cache-size: %w", err))
	}
	if f.cacheDir != "" && !filepath.IsAbs(f.cacheDir) {
		return builder.Config{}, badInput(fmt.Errorf("--crate-cache-dir %q: want an absolute path", f.cacheDir))
	}
	if !filepath.IsAbs(f.workDir) {
		return builder.Config{}, badInput(fmt.Errorf("--work-dir %q: want an absolute path", f.workDir))
	}
	cfg := builder.Config{
		ID: f.id, Slots: f.slots, WorkDir: f.workDir, MemoryBytes: mem, Timeout: f.timeout,
		NoOutputTimeout: f.noOutput, MinFreeDiskBytes: minFree, TmpBytes: tmpSize, DrainGrace: f.drainGrace,
		LogWindow: f.logWindow, SandboxRetryDelay: f.sandboxRetry, MaxLogBytes: maxLog,
		ToolchainPaths: f.tcPaths, CrateCacheDir: f.cacheDir, CrateCacheBytes: cacheSize,
		Version: buildVersion(),
	}
	if f.buildUID > math.MaxInt32 {
		return builder.Config{}, badInput(fmt.Errorf("--build-uid %d: want at most %d", f.buildUID, math.MaxInt32))
	}
	cfg.BuildUID = uint32(f.buildUID)
	cfg.JobDiskBytes = -1 // "0": no bound
	if strings.TrimSpace(f.jobDisk) != "0" {
		if cfg.JobDiskBytes, err = parseBytes(f.jobDisk); err != nil {
			return builder.Config{}, badInput(fmt.Errorf("--job-disk: %w", err))
		}
	}
	for _, p := range f.hide {
		if !filepath.IsAbs(p) {
			return builder.Config{}, badInput(fmt.Errorf("--sandbox-hide %q: want an absolute path", p))
		}
	}
	if err := builder.CheckConfig(cfg); err != nil {
		return builder.Config{}, badInput(err)
	}
	return cfg, nil
}

// start builds the builder of cfg, registering its metrics in reg; closing
// the returned sandbox releases containerd. Builds see none of secrets (the
// process's credentials and keys, more in up's case), the builder's own
// hidden paths (its work dir), --sandbox-hide nor containerd's socket.
func (f *builderFlags) start(ctx context.Context, cfg builder.Config, nc *nats.Conn, log zerolog.Logger, reg prometheus.Registerer, secrets []string) (*builder.Builder, *sandbox.Containerd, error) {
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("--work-dir: %w", err)
	}
	var hide []string
	for _, p := range slices.Concat(cfg.HiddenPaths(), secrets, f.hide, []string{f.containerd}) {
		if p != "" {
			if abs, err := filepath.Abs(p); err == nil {
				hide = append(hide, abs)
			}
		}
	}
	sb, err := sandbox.New(ctx, sandbox.Config{
		Address: f.containerd, Namespace: f.namespace, FIFODir: filepath.Join(cfg.WorkDir, ".fifo"), Rootfs: f.rootfs,
		Hide: hide, HostRoot: f.hostRoot,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--containerd/--rootfs: %w", err)
	}
	cfg.Metrics = reg
	b, err := builder.New(cfg, nc, sb, log)
	if err != nil {
		sb.Close()
		return nil, nil, badInput(err)
	}
	return b, sb, nil
}

func newBuilderCmd(g *globals) *cobra.Command {
	var f builderFlags
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Run a builder: take jobs, build them in containerd sandboxes, stream their logs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("builder")
			if err != nil {
				return err
			}
			if err := checkMetricsAddr(metricsAddr); err != nil {
				return err
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			nc, js, err := g.connectWait(cmd.Context(), "ejecta-builder-"+f.id, log)
			if err != nil {
				return err
			}
			defer nc.Close()
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewDisk(cfg.WorkDir))
			b, sb, err := f.start(cmd.Context(), cfg, nc, log, reg, g.auth.secretFiles())
			if err != nil {
				return err
			}
			defer sb.Close()
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js),
				metrics.Check{Name: "containerd", Probe: sb.Ping})
			// The first SIGTERM (or Ctrl-C) ends cmd.Context(): the builder
			// drains. The second aborts the drain.
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				<-sigs
				if _, ok := <-sigs; ok {
					log.Warn().Msg("second signal: aborting the drain")
					b.Abort()
				}
			}()
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, b.Run, metrics.WithHealth(health))
		},
	}
	f.register(cmd.Flags(), "/var/lib/ejecta/work")
	metricsFlag(cmd.Flags(), &metricsAddr, "")
	cmd.Flags().DurationVar(&f.drainGrace, "drain-grace", envDuration("EJECTA_DRAIN_GRACE", 10*time.Minute),
		"on SIGTERM, let running builds finish for this long before killing them and handing their jobs back; a second SIGTERM ends it (env EJECTA_DRAIN_GRACE)")
	return cmd
}

func storeFlag(fs *pflag.FlagSet, dst *string, def string) {
	fs.StringVar(dst, "store", envOr("EJECTA_STORE", def),
		"where logs and reports go: file:///DIR or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&secure=false; S3 credentials from EJECTA_S3_ACCESS_KEY/EJECTA_S3_SECRET_KEY, else the standard chain (AWS_* variables, ~/.aws/credentials, an IAM role) (env EJECTA_STORE)")
}

func openStore(ctx context.Context, url string) (store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, badInput(fmt.Errorf("--store: %w", err))
	}
	return st, nil
}

func newUploaderCmd(g *globals) *cobra.Command {
	var storeURL, name, memLimit, metricsAddr string
	cmd := &cobra.Command{
		Use:   "uploader",
		Short: "Run an uploader replica: store complete logs in the object store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("uploader")
			if err != nil {
				return err
			}
			if err := applyMemoryLimit(memLimit); err != nil {
				return err
			}
			if err := checkMetricsAddr(metricsAddr); err != nil {
				return err
			}
			key, err := g.auth.jobKey("the uploader")
			if err != nil {
				return err
			}
			st, err := openStoreWait(cmd.Context(), storeURL, log)
			if err != nil {
				return err
			}
			nc, js, err := g.connectWait(cmd.Context(), "ejecta-uploader-"+name, log)
			if err != nil {
				return err
			}
			defer nc.Close()
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewDisk(os.TempDir())) // where it stages log pages
			u, err := uploader.New(uploader.Config{Name: name, Metrics: reg, JobKey: key}, nc, st, log)
			if err != nil {
				return badInput(err)
			}
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st))
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, u.Run, metrics.WithHealth(health))
		},
	}
	host, _ := os.Hostname()
	storeFlag(cmd.Flags(), &storeURL, "file:///var/lib/ejecta/store")
	cmd.Flags().StringVar(&name, "name", envOr("EJECTA_UPLOADER_NAME", sanitizeID(host)), "replica name in logs (env EJECTA_UPLOADER_NAME)")
	memoryLimitFlag(cmd.Flags(), &memLimit)
	metricsFlag(cmd.Flags(), &metricsAddr, "")
	return cmd
}

func newReporterCmd(g *globals) *cobra.Command {
	var storeURL, metricsAddr string
	var confirmations int
	cmd := &cobra.Command{
		Use:   "reporter",
		Short: "Run the reporter: keep every experiment's report current",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("reporter")
			if err != nil {
				return err
			}
			if err := checkMetricsAddr(metricsAddr); err != nil {
				return err
			}
			key, err := g.auth.jobKey("the reporter")
			if err != nil {
				return err
			}
			st, err := openStoreWait(cmd.Context(), storeURL, log)
			if err != nil {
				return err
			}
			nc, js, err := g.connectWait(cmd.Context(), "ejecta-reporter", log)
			if err != nil {
				return err
			}
			defer nc.Close()
			// The reporter, one per farm, also reports the streams' state.
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewJetStream(js, log))
			r, err := reporter.New(reporter.Config{Confirmations: confirmations, Metrics: reg, JobKey: key}, nc, st, log)
			if err != nil {
				return badInput(err)
			}
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st))
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, r.Run, metrics.WithHealth(health))
		},
	}
	storeFlag(cmd.Flags(), &storeURL, "file:///var/lib/ejecta/store")
	cmd.Flags().IntVar(&confirmations, "confirmations", envInt("EJECTA_CONFIRMATIONS", reporter.DefaultConfirmations),
		"re-runs on both toolchains that confirm each regression; -1 for none (env EJECTA_CONFIRMATIONS)")
	metricsFlag(cmd.Flags(), &metricsAddr, " (stream and consumer state included)")
	return cmd
}

// sanitizeID turns a host name into a valid builder id.
func sanitizeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "builder"
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// envDuration is the duration in environment variable name, or def when it
// is unset or not a duration.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
