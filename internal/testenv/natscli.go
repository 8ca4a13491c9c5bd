package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NatsCLI runs the stock `nats` command-line tool (github.com/nats-io/natscli)
// against one server, as an operator would.
type NatsCLI struct {
	Bin    string // the nats binary
	Server string // the server's URL, passed as --server
	// config is a private XDG_CONFIG_HOME, so contexts saved by whoever
	// runs the tests do not change what the tool connects to.
	config string
}

// FindNatsCLI returns the nats tool pointed at server. Without a nats
// binary in PATH or $(go env GOPATH)/bin the test is skipped (see
// Unavailable); scripts/setup.sh installs the pinned version.
func FindNatsCLI(t testing.TB, server string) NatsCLI {
	t.Helper()
	bin := lookGoBin("nats")
	if bin == "" {
		Unavailable(t, "nats binary not in PATH nor in $(go env GOPATH)/bin "+
			"(scripts/setup.sh, or go install github.com/nats-io/natscli/nats@VERSION)")
	}
	return NatsCLI{Bin: bin, Server: server, config: t.TempDir()}
}

// Command returns `nats --server URL args...`, ready to start or run.
func (n NatsCLI) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, n.Bin, append([]string{"--server", n.Server, "--no-context"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+n.config)
	return cmd
}

// Run runs `nats args...` and returns its standard output; a failure
// fails t with the tool's standard error.
func (n NatsCLI) Run(t testing.TB, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := n.Command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nats %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
