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
	"github.com/ejecta-build/ejecta/streams"
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
	sharedTgt  string
	logWindow  int
	pinCores   bool
	// sandboxRetry is how long a job whose sandbox failed waits to be
	// delivered again.
	sandboxRetry time.Duration
	drainGrace   time.Duration // only `ejecta builder` sets it; `up` stops at once
}

func (f *builderFlags) register(fs *pflag.FlagSet, defaultWorkDir string) {
	host, _ := os.Hostname()
	fs.StringVar(&f.id, "builder-id", sanitizeID(host), "builder id, unique per host")
	fs.IntVar(&f.slots, "slots", runtime.NumCPU(), "builds run at once")
	fs.BoolVar(&f.pinCores, "pin-cores", false, "pin each slot's builds to one core (slot mod cores); by default every build may run on every core, all at one cgroup CPU weight, so a core one slot leaves idle serves the others")
	fs.StringVar(&f.workDir, "work-dir", defaultWorkDir, "directory for job directories")
	fs.StringVar(&f.containerd, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	fs.StringVar(&f.namespace, "containerd-namespace", "ejecta", "containerd namespace")
	fs.StringVar(&f.memory, "memory", sizeString(builder.DefaultMemoryBytes), "memory limit per build, e.g. 1536MiB or 2GiB")
	fs.DurationVar(&f.timeout, "timeout", builder.DefaultTimeout, "wall-clock limit per build attempt, unless the experiment sets one")
	fs.DurationVar(&f.noOutput, "no-output-timeout", builder.DefaultNoOutputTimeout, "kill a build that prints nothing for this long, unless the experiment sets one")
	fs.StringVar(&f.rootfs, "rootfs", "host", "what builds see as /, read-only: host (the host's root) or image:PATH_OR_REF (an OCI/docker image tarball to import, or an image already in containerd)")
	fs.StringVar(&f.tmpSize, "tmp-size", sizeString(sandbox.DefaultTmpBytes), "size of each build's private /tmp (a tmpfs, counted against its memory), unless the experiment sets one")
	fs.StringSliceVar(&f.tcPaths, "toolchain-path", nil, "a toolchain directory (bin/rustc, bin/cargo, lib/) this builder offers to experiments that name it by path, e.g. a compiler built from a branch; repeat or comma-separate")
	bindEnv(fs, "toolchain-path", "EJECTA_TOOLCHAIN_PATHS")
	fs.StringVar(&f.maxLog, "max-log-bytes", sizeString(builder.DefaultMaxLogBytes), "task output a build log keeps, e.g. 64MiB: past it the log keeps only the last part of each step's output (at most 1MiB) after a line saying how much was left out; 0 for no cap")
	fs.StringVar(&f.cacheDir, "crate-cache-dir", "", "where .crate files downloaded from a remote registry (--crate-source sparse+https://...) are kept, checked against the index's sha256; one builder per directory (default WORK_DIR/crate-cache-ID)")
	fs.StringVar(&f.cacheSize, "crate-cache-size", sizeString(builder.DefaultCrateCacheBytes), "bound on the crate download cache, e.g. 4GiB: past it the least recently used files are removed")
	fs.StringSliceVar(&f.hide, "sandbox-hide", nil, "a host path builds must not see, besides the work dir, this builder's credentials and "+strings.Join(sandbox.DefaultHidden, ", ")+"; repeat or comma-separate")
	fs.StringVar(&f.hostRoot, "host-root", "/", "where this builder sees the host's root: / unless it runs in a container that mounts the host's root elsewhere read-only (compose.yaml: /host), so that what builds must not see is read from the host; job dirs, toolchains and the crate source must still be at their host paths")
	fs.StringVar(&f.jobDisk, "job-disk", sizeString(builder.DefaultJobDiskBytes), "disk space one build may fill in its job dir, e.g. 20GiB: past it the build is killed and fails with no-space; 0 for no bound")
	fs.StringVar(&f.sharedTgt, "shared-target-size", sizeString(builder.DefaultSharedTargetBytes), "bound on each slot's shared cargo target dir per toolchain, where first runs reuse the dependencies earlier jobs built, e.g. 8GiB: past it the dir is purged before its next build (also when free disk runs low and after any killed or spurious attempt); 0 for no shared target: every build starts from an empty one")
	fs.UintVar(&f.buildUID, "build-uid", uint(builder.DefaultBuildUID), "first of the unprivileged user ids builds run as, one per slot (uid and gid BUILD_UID+slot); pick a range no real user or other builder on the host has")
	f.logWindow = builder.DefaultLogWindow
	fs.Var(boundedInt{v: &f.logWindow, min: 1, max: 4096}, "log-window", "log chunks of one build published ahead of their acknowledgements, 1 to 4096; when that many are in flight the build's output waits; 1 publishes each chunk synchronously")
	fs.DurationVar(&f.sandboxRetry, "sandbox-retry-delay", builder.DefaultSandboxRetryDelay,
		"when the sandbox itself fails (containerd restarted, a shim died), store the attempt's log, record no result and build the job again after this long; its last attempt reports the error")
	fs.StringVar(&f.minFree, "min-free-disk", sizeString(builder.DefaultMinFreeDisk), "take no new jobs while the work dir's disk has less free, e.g. 2GiB; 0 to disable")
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
		ID: f.id, Slots: f.slots, PinCores: f.pinCores, WorkDir: f.workDir, MemoryBytes: mem, Timeout: f.timeout,
		NoOutputTimeout: f.noOutput, MinFreeDiskBytes: minFree, TmpBytes: tmpSize, DrainGrace: f.drainGrace,
		LogWindow: f.logWindow, SandboxRetryDelay: f.sandboxRetry, MaxLogBytes: maxLog,
		ToolchainPaths: f.tcPaths, CrateCacheDir: f.cacheDir, CrateCacheBytes: cacheSize,
		Version: buildVersion().String(),
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
	cfg.SharedTargetBytes = -1 // "0": no shared target
	if strings.TrimSpace(f.sharedTgt) != "0" {
		if cfg.SharedTargetBytes, err = parseBytes(f.sharedTgt); err != nil {
			return builder.Config{}, badInput(fmt.Errorf("--shared-target-size: %w", err))
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
	cmd.Flags().DurationVar(&f.drainGrace, "drain-grace", 10*time.Minute,
		"on SIGTERM, let running builds finish for this long before killing them and handing their jobs back; a second SIGTERM ends it")
	return cmd
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
			recordEndpoints(cmd.Context(), js, log, "uploader "+name, map[string]string{streams.EndpointStore: storeURL})
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
	storeFlag(cmd.Flags(), &storeURL, defaultStore)
	cmd.Flags().StringVar(&name, "name", sanitizeID(host), "replica name in logs")
	bindEnv(cmd.Flags(), "name", "EJECTA_UPLOADER_NAME")
	memoryLimitFlag(cmd.Flags(), &memLimit, uploader.DefaultMemoryLimit, "EJECTA_UPLOADER_MEMORY_LIMIT")
	metricsFlag(cmd.Flags(), &metricsAddr, "")
	return cmd
}

func newReporterCmd(g *globals) *cobra.Command {
	var storeURL, metricsAddr, webURL, keepLogs, memLimit string
	var confirmations, wholeFrom int
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
			if err := checkWebURL(webURL); err != nil {
				return err
			}
			if wholeFrom < 1 {
				return badInput(fmt.Errorf("--whole-from-crates %d: want 1 or more", wholeFrom))
			}
			keep, err := parseKeepLogs(keepLogs)
			if err != nil {
				return err
			}
			if err := applyMemoryLimit(memLimit); err != nil {
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
			recordEndpoints(cmd.Context(), js, log, "reporter", map[string]string{streams.EndpointStore: storeURL, streams.EndpointWeb: webURL})
			// The reporter, one per farm, also reports the streams' state.
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewJetStream(js, log))
			r, err := reporter.New(reporter.Config{Confirmations: confirmations, Metrics: reg, JobKey: key, KeepLogs: keep, WebURL: webURL,
				WholeFromCrates: wholeFrom}, nc, st, log)
			if err != nil {
				return badInput(err)
			}
			health := metrics.NewHealth(log, metrics.NATSConnected(nc), metrics.StreamsPresent(js), metrics.StoreReachable(st))
			return runWithMetrics(cmd.Context(), metricsAddr, reg, log, r.Run, metrics.WithHealth(health))
		},
	}
	storeFlag(cmd.Flags(), &storeURL, defaultStore)
	cmd.Flags().IntVar(&confirmations, "confirmations", reporter.DefaultConfirmations,
		"re-runs on both toolchains that confirm each regression; -1 for none")
	metricsFlag(cmd.Flags(), &metricsAddr, " (stream and consumer state included)")
	webURLFlag(cmd.Flags(), &webURL, "")
	keepLogsFlag(cmd.Flags(), &keepLogs)
	cmd.Flags().IntVar(&wholeFrom, "whole-from-crates", reporter.DefaultWholeFromCrates,
		"crates an experiment has before its files with every crate (results.json, the crater view's, full.html's pages) are rewritten less often than the rest of its report")
	// The reporter holds every crate of the experiments it follows: a
	// limit is for the memory it is given, about 0.5 KB a crate live
	// (BENCHMARKS.md), and bounds how far the heap overshoots that.
	memoryLimitFlag(cmd.Flags(), &memLimit, 0, "EJECTA_REPORTER_MEMORY_LIMIT")
	return cmd
}

// keepLogsFlag registers the reporter's --keep-logs.
func keepLogsFlag(fs *pflag.FlagSet, dst *string) {
	fs.StringVar(dst, "keep-logs", "0", "how long stored logs are kept once their experiment is over, e.g. 30d, for experiments created without --keep-logs; their reports and log archives stay (0: for ever)")
}

// parseKeepLogs reads the reporter's --keep-logs.
func parseKeepLogs(s string) (time.Duration, error) {
	d, err := parseRetention(s)
	if err == nil {
		err = streams.ValidateKeepLogs(d)
	}
	if err != nil {
		return 0, badInput(fmt.Errorf("--keep-logs: %w", err))
	}
	return d, nil
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
