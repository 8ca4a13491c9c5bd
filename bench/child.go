package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/docker/go-units"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/uploader"
)

// childEnv makes the test binary run one component instead of the tests
// (see ChildMain), so that its CPU time and memory can be measured alone.
const childEnv = "EJECTA_BENCH_CHILD"

// EnvCPUProfile, when set to a directory, makes every child process write
// a CPU profile there (<kind>-<pid>.pprof) when it stops.
const EnvCPUProfile = "EJECTA_BENCH_CPUPROFILE"

// EnvHeapProfile, when set to a directory, makes a benchmark that reads a
// child's memory (scale) ask the child for a heap profile at its peak:
// the child writes <kind>-<pid>.heap there on SIGUSR1, after a GC.
const EnvHeapProfile = "EJECTA_BENCH_HEAPPROFILE"

// EnvReporterMemoryLimit, set to a size (512MiB), is the soft memory
// limit of a reporter run as a child, as `ejecta reporter`'s environment
// gives it.
const EnvReporterMemoryLimit = "EJECTA_REPORTER_MEMORY_LIMIT"

// childSpec is what a child runs, as JSON in childEnv.
type childSpec struct {
	Kind  string `json:"kind"` // "uploader" or "reporter"
	Name  string `json:"name"`
	NATS  string `json:"nats"`
	Store string `json:"store"` // a store URL, as for store.Open
	// Confirmations is the reporter's (reporter.Config.Confirmations).
	Confirmations int `json:"confirmations,omitempty"`
	// LogFile, if set, is where the child writes its log at debug level,
	// for a benchmark that reads the component's own timings.
	LogFile string `json:"log_file,omitempty"`
}

// ChildMain runs the component a parent benchmark asked for when the
// process was started as a child (it returns the exit code and true), and
// does nothing otherwise. The test binary's TestMain calls it first.
func ChildMain() (int, bool) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return 0, false
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		log.Error().Err(err).Str("env", childEnv).Msg("bad child spec")
		return 2, true
	}
	if spec.LogFile != "" {
		f, err := os.OpenFile(spec.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			log.Error().Err(err).Msg("open the child's log file")
			return 2, true
		}
		defer f.Close()
		log = zerolog.New(f).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if dir := os.Getenv(EnvCPUProfile); dir != "" {
		f, err := os.Create(fmt.Sprintf("%s/%s-%d.pprof", dir, spec.Kind, os.Getpid()))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if dir := os.Getenv(EnvHeapProfile); dir != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go heapProfiles(ctx, usr1, fmt.Sprintf("%s/%s-%d.heap", dir, spec.Kind, os.Getpid()), log)
	}
	if err := runChild(ctx, spec, log); err != nil {
		log.Error().Err(err).Str("kind", spec.Kind).Msg("child failed")
		return 1, true
	}
	return 0, true
}

// heapProfiles writes a heap profile to path on every signal on usr1
// until ctx ends: written beside it and renamed, so that the file is whole
// once it exists.
func heapProfiles(ctx context.Context, usr1 <-chan os.Signal, path string, log zerolog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr1:
		}
		runtime.GC()
		f, err := os.Create(path + ".tmp")
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			log.Error().Err(err).Str("path", path).Msg("write a heap profile")
		}
	}
}

// heapProfile asks c for a heap profile (EnvHeapProfile) and waits for it;
// it returns its path, or "" when none was asked for.
func (c *child) heapProfile(t testing.TB, kind string) string {
	t.Helper()
	dir := os.Getenv(EnvHeapProfile)
	if dir == "" {
		return ""
	}
	path := fmt.Sprintf("%s/%s-%d.heap", dir, kind, c.pid())
	os.Remove(path)
	if err := c.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatalf("ask the %s for a heap profile: %v", kind, err)
	}
	waitUntil(t, time.Minute, "the heap profile", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	return path
}

func runChild(ctx context.Context, spec childSpec, log zerolog.Logger) error {
	st, err := store.Open(ctx, spec.Store)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(spec.NATS, nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", spec.NATS, err)
	}
	defer nc.Close()
	switch spec.Kind {
	case "uploader":
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(uploader.DefaultMemoryLimit) // as `ejecta uploader` does
		}
		u, err := uploader.New(uploader.Config{Name: spec.Name}, nc, st, log)
		if err != nil {
			return err
		}
		return u.Run(ctx)
	case "reporter":
		// As `ejecta reporter --memory-limit` does; GOMEMLIMIT would
		// limit the parent too.
		if v := os.Getenv(EnvReporterMemoryLimit); v != "" && os.Getenv("GOMEMLIMIT") == "" {
			n, err := units.RAMInBytes(v)
			if err != nil {
				return fmt.Errorf("%s: %w", EnvReporterMemoryLimit, err)
			}
			debug.SetMemoryLimit(n)
		}
		r, err := reporter.New(reporter.Config{Confirmations: spec.Confirmations}, nc, st, log)
		if err != nil {
			return err
		}
		return r.Run(ctx)
	}
	return fmt.Errorf("child kind %q: want uploader or reporter", spec.Kind)
}

// child is a component running as a child process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startChild starts a child process running spec until stop or the end of
// the benchmark. extraEnv is added to this process's environment.
func startChild(t testing.TB, spec childSpec, extraEnv ...string) *child {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+string(data)), extraEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a child %s: %v", spec.Kind, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		cmd.Wait()
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the child with SIGTERM, as an operator would, and waits.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
