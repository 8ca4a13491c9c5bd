package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/builder/sandbox"
)

// childEnv, when set, makes the test binary a builder process (see
// childSpec) instead of running tests: the tests that kill a builder with
// SIGKILL or SIGTERM need one in a process of its own.
const childEnv = "EJECTA_TEST_BUILDER_CHILD"

// childSpec is what a child builder process is told, as JSON in childEnv.
type childSpec struct {
	NATS    string         `json:"nats"`
	Sandbox sandbox.Config `json:"sandbox"`
	Config  Config         `json:"config"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "builder child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild runs a builder as `ejecta builder` does: the first SIGTERM
// drains, a second aborts.
func runChild(data string) error {
	var spec childSpec
	if err := json.Unmarshal([]byte(data), &spec); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(spec.NATS, nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	sb, err := sandbox.New(ctx, spec.Sandbox)
	if err != nil {
		return err
	}
	defer sb.Close()
	b, err := New(spec.Config, nc, sb, zerolog.New(os.Stderr).With().Timestamp().Str("pid", fmt.Sprint(os.Getpid())).Logger())
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		<-sigs
		b.Abort()
	}()
	return b.Run(ctx)
}
