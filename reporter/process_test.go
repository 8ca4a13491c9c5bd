package reporter

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	procstat "github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// childEnv makes the test binary run a reporter instead of the tests, so
// that a test can kill a real process with SIGKILL and measure its CPU.
const childEnv = "EJECTA_TEST_REPORTER_CHILD"

// childSpec is what the child reporter runs with, passed as JSON in childEnv.
type childSpec struct {
	NATS          string        `json:"nats"`
	StoreDir      string        `json:"store_dir"`
	Debounce      time.Duration `json:"debounce"`
	Confirmations int           `json:"confirmations"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild runs a reporter until SIGTERM, as `ejecta reporter` does.
func runChild(specJSON string) int {
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		log.Error().Err(err).Msg("child spec")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	nc, err := nats.Connect(spec.NATS, nats.MaxReconnects(-1))
	if err != nil {
		log.Error().Err(err).Msg("connect")
		return 1
	}
	defer nc.Close()
	st, err := store.NewFile(spec.StoreDir)
	if err != nil {
		log.Error().Err(err).Msg("store")
		return 1
	}
	if path := os.Getenv("EJECTA_TEST_CHILD_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	r, err := New(Config{Debounce: spec.Debounce, Confirmations: spec.Confirmations}, nc, st, log)
	if err != nil {
		log.Error().Err(err).Msg("new reporter")
		return 2
	}
	if err := r.Run(ctx); err != nil {
		log.Error().Err(err).Msg("run")
		return 1
	}
	return 0
}

// child is a reporter running as a process of its own.
type child struct {
	t   *testing.T
	cmd *exec.Cmd
}

// startChild starts a reporter process on e's server writing to dir, and
// waits until it follows the results stream.
func (e *env) startChild(dir string, debounce time.Duration, confirmations int) *child {
	e.t.Helper()
	spec, err := json.Marshal(childSpec{NATS: e.nats.URL, StoreDir: dir, Debounce: debounce, Confirmations: confirmations})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := e.js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		e.t.Fatal(err)
	}
	before := stream.CachedInfo().State.Consumers

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start child reporter: %v", err)
	}
	c := &child{t: e.t, cmd: cmd}
	e.t.Cleanup(c.kill)
	waitFor(e.t, "the child reporter's consumer", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Consumers > before
	})
	return c
}

// stop ends the child with SIGTERM, as an operator would, and waits.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	_ = c.cmd.Wait()
}

// kill ends the child with SIGKILL: no clean-up of any kind.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// cpu is the CPU time the child has used so far, to the nanosecond.
func (c *child) cpu() time.Duration {
	c.t.Helper()
	d, err := procstat.CPU(c.cmd.Process.Pid)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}
