package uploader

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/store"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Environment of a replica run as a child process (startReplica).
const (
	envHelper  = "EJECTA_UPLOADER_TEST_REPLICA"
	envNATS    = "EJECTA_UPLOADER_TEST_NATS"
	envStore   = "EJECTA_UPLOADER_TEST_STORE"
	envProgess = "EJECTA_UPLOADER_TEST_PROGRESS"
)

// TestReplicaProcess is not a test: it is the body of an uploader replica
// that startReplica runs as a child process of the test binary, so that a
// test can measure its memory or kill it.
func TestReplicaProcess(t *testing.T) {
	name := os.Getenv(envHelper)
	if name == "" {
		t.Skip("runs only as a child process of another test")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := zerolog.New(os.Stderr).With().Timestamp().Logger()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(DefaultMemoryLimit) // as `ejecta uploader` does
	}
	if err := runReplica(ctx, name, log); err != nil {
		log.Error().Err(err).Msg("replica failed")
		os.Exit(1)
	}
	os.Exit(0)
}

func runReplica(ctx context.Context, name string, log zerolog.Logger) error {
	st, err := store.Open(ctx, os.Getenv(envStore))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(os.Getenv(envNATS), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	cfg := fastConfig(name)
	if p := os.Getenv(envProgess); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil {
			return err
		}
		cfg.ProgressInterval = d
	}
	u, err := New(cfg, nc, st, log)
	if err != nil {
		return err
	}
	return u.Run(ctx)
}

// replica is an uploader running as a child process.
type replica struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs []map[string]any // its log lines, decoded
}

// startReplica runs an uploader replica in a child process against the NATS
// server at natsURL and the store at storeURL, until the test ends.
func startReplica(t *testing.T, name, natsURL, storeURL string, extraEnv ...string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+name, envNATS+"="+natsURL, envStore+"="+storeURL)
	cmd.Env = append(cmd.Env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", name, err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.read(stderr)
		cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *replica) read(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			m = map[string]any{"message": sc.Text()}
		}
		r.mu.Lock()
		r.logs = append(r.logs, m)
		r.mu.Unlock()
	}
}

// lines returns the replica's log lines with the given message.
func (r *replica) lines(msg string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, m := range r.logs {
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	<-r.done
}
