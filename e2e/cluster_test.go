package e2e

import (
	"context"
	"crypto/x509"
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

// natsCluster is three nats-server processes on the configurations `ejecta
// auth init` and `ejecta auth cluster` write: the roles' users, and TLS
// with verified certificates on the client port and on the routes.
type natsCluster struct {
	nodes []*natsNode
	auth  *authServer // the URLs of every node, the roles' credentials
	// tls is what every client presents: the CA and a client certificate.
	tls streams.Security
}

// startCluster starts the three nodes, each with a store of its own as on
// its own host, and waits until they elected a JetStream meta leader and
// the admin created every stream on three replicas.
func startCluster(t *testing.T) *natsCluster {
	t.Helper()
	bin := buildNATSServer(t)
	dir := t.TempDir()
	ca := newPKI(t, dir, "ejecta")
	nodeCert, nodeKey := ca.issue(t, "nats-node", 2, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	clientCert, clientKey := ca.issue(t, "ejecta-host", 3, x509.ExtKeyUsageClientAuth)
	tls := &auth.ServerTLS{CertFile: nodeCert, KeyFile: nodeKey, CAFile: ca.file("ejecta-ca.pem")}
	if err := auth.Init(auth.Options{Dir: dir, Listen: "127.0.0.1:4222", StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	var clients, routes []string
	for range 3 {
		clients, routes = append(clients, freeAddr(t)), append(routes, freeAddr(t))
	}
	if err := auth.Cluster(auth.ClusterOptions{Dir: dir, Name: "ejecta-test", Clients: clients, Routes: routes, StoreDir: "unused", TLS: tls}); err != nil {
		t.Fatal(err)
	}
	c := &natsCluster{tls: streams.Security{CAFile: tls.CAFile, CertFile: clientCert, KeyFile: clientKey}}
	var urls []string
	for i := range 3 {
		wrapper := filepath.Join(dir, "test-node-"+strconv.Itoa(i+1)+".conf")
		conf := "include " + strconv.Quote(auth.NodeConfigFile(i+1)) + "\njetstream {\n  store_dir: " + strconv.Quote(t.TempDir()) + "\n}\n"
		if err := os.WriteFile(wrapper, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &natsNode{bin: bin, config: wrapper}
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
		urls = append(urls, "nats://"+clients[i])
	}
	t.Cleanup(func() {
		for i, n := range c.nodes {
			if n.cmd.ProcessState == nil {
				n.kill(t)
			}
			if t.Failed() {
				t.Logf("node %d:\n%s", i+1, n.out.String())
			}
		}
	})
	for i, addr := range clients {
		waitListening(t, addr, c.nodes[i])
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	c.auth = &authServer{url: strings.Join(urls, ","), dir: dir, log: log}
	waitClusterReady(t, c.auth, c.tls)
	return c
}

// roleArgs are the flags an ejecta process of role connects with.
func (c *natsCluster) roleArgs(role streams.Role) []string {
	return []string{"--nats-credentials", filepath.Join(c.auth.dir, auth.CredentialsFile(role)),
		"--tls-ca", c.tls.CAFile, "--tls-cert", c.tls.CertFile, "--tls-key", c.tls.KeyFile, "--replicas", "3"}
}

// killAndRestart SIGKILLs node i (0-based), keeps it down for down and
// starts it again on the same configuration and store.
func (c *natsCluster) killAndRestart(t *testing.T, i int, down time.Duration) {
	t.Helper()
	t.Logf("SIGKILL nats node %d", i+1)
	c.nodes[i].kill(t)
	time.Sleep(down)
	t.Logf("restart nats node %d", i+1)
	if err := c.nodes[i].start(); err != nil {
		t.Fatal(err)
	}
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
func waitClusterReady(t *testing.T, s *authServer, sec streams.Security) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := s.connect(t, streams.RoleAdmin, sec)
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
