package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/rs/zerolog"
)

// natsNode is one nats-server process of a test cluster.
type natsNode struct {
	bin, config string
	cmd         *exec.Cmd
	out         *strings.Builder
}

func (n *natsNode) start() error {
	n.out = &strings.Builder{}
	n.cmd = exec.Command(n.bin, "-c", n.config)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server -c %s: %w", n.config, err)
	}
	return nil
}

// kill ends the node with SIGKILL: no goodbye to its peers, no flush.
func (n *natsNode) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
}

// buildNATSServer builds the nats-server command of the version in go.mod,
// the same server the other tests embed.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Unavailable(t, "go command to build nats-server: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Unavailable(t, "build nats-server: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestClusterSurvivesANodeKilled runs three nats-server processes on the
// configurations `ejecta auth init` and `ejecta auth cluster` write, puts
// every stream on three replicas, and SIGKILLs one node once the first
// result is in, restarting it a little later. Every component runs as its
// role against all three URLs; the experiment completes with every result
// counted once and every log stored.
func TestClusterSurvivesANodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	bin := buildNATSServer(t)
	dir := t.TempDir()
	if err := auth.Init(auth.Options{Dir: dir, Listen: "127.0.0.1:4222", StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	var clients, routes []string
	for range 3 {
		clients, routes = append(clients, freeAddr(t)), append(routes, freeAddr(t))
	}
	if err := auth.Cluster(auth.ClusterOptions{Dir: dir, Name: "ejecta-test", Clients: clients, Routes: routes, StoreDir: "unused"}); err != nil {
		t.Fatal(err)
	}
	var nodes []*natsNode
	var urls []string
	for i := range 3 {
		// Each node keeps its own store, as on its own host: a wrapper
		// includes the generated config and overrides store_dir.
		wrapper := filepath.Join(dir, "test-node-"+strconv.Itoa(i+1)+".conf")
		conf := "include " + strconv.Quote(auth.NodeConfigFile(i+1)) + "\njetstream {\n  store_dir: " + strconv.Quote(t.TempDir()) + "\n}\n"
		if err := os.WriteFile(wrapper, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &natsNode{bin: bin, config: wrapper}
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		urls = append(urls, "nats://"+clients[i])
	}
	t.Cleanup(func() {
		for i, n := range nodes {
			if n.cmd.ProcessState == nil {
				n.kill(t)
			}
			if t.Failed() {
				t.Logf("node %d:\n%s", i+1, n.out.String())
			}
		}
	})
	for i, c := range clients {
		waitListening(t, c, nodes[i])
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	s := &authServer{url: strings.Join(urls, ","), dir: dir, log: log}
	waitClusterReady(t, s)

	runAsRoles(t, s, streams.Security{}, roleRun{
		exp: "cluster", crates: "cfg-if,itoa", replicas: 3,
		want: map[string]reporter.Class{"cfg-if": reporter.ClassSameTestPass, "itoa": reporter.ClassSameTestPass},
		midRun: func() {
			t.Log("SIGKILL node 2")
			nodes[1].kill(t)
			time.Sleep(5 * time.Second)
			t.Log("restart node 2")
			if err := nodes[1].start(); err != nil {
				t.Error(err)
			}
		},
	})
}

// waitListening waits until n accepts connections on addr.
func waitListening(t *testing.T, addr string, n *natsNode) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server -c %s not listening on %s after 30s: %v", n.config, addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitClusterReady waits until the nodes elected a JetStream meta leader:
// the admin can then create a stream with three replicas.
func waitClusterReady(t *testing.T, s *authServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := s.connect(t, streams.RoleAdmin, streams.Security{})
	cfg := streams.DefaultConfig()
	cfg.Replicas = 3
	for {
		// Before a meta leader is elected a request may get no answer at
		// all: give each try a deadline of its own.
		tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
		err := streams.Ensure(tctx, admin.js, cfg)
		tcancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("cluster not ready in 90s: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
