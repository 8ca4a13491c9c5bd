package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// startPasswordServer starts a server that lets in user "farm" alone.
func startPasswordServer(t *testing.T) string {
	t.Helper()
	return startServer(t, &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{{Username: "farm", Password: "farm-password"}}}).ClientURL()
}

// startServer starts a server with opts until the test ends.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// saveContext writes a nats CLI context under a private XDG_CONFIG_HOME.
func saveContext(t *testing.T, name, json string) {
	t.Helper()
	dir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "nats", "context")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --context NAME connects as the nats CLI's context says; flags given
// besides override it; what ejecta cannot honour is refused by name.
func TestNATSContext(t *testing.T) {
	url := startPasswordServer(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("FARM_PASSWORD", "farm-password")
	saveContext(t, "farm", `{"description":"the farm","url":"`+url+`","user":"farm","password":"env://FARM_PASSWORD"}`)
	saveContext(t, "jwt", `{"url":"`+url+`","user_jwt":"eyJ..."}`)
	saveContext(t, "op", `{"url":"`+url+`","user":"farm","password":"op://vault/farm/password"}`)

	if out, err := run(t, "--context", "farm", "streams", "ensure"); err != nil || !strings.Contains(out, "ensured") {
		t.Fatalf("streams ensure with --context: %q, %v", out, err)
	}
	if out, err := run(t, "--context", "farm", "builders", "-o", "json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("builders with --context: %q, %v", out, err)
	}
	t.Setenv("EJECTA_NATS_CONTEXT", "farm")
	if out, err := run(t, "experiment", "list"); err != nil {
		t.Errorf("experiment list with EJECTA_NATS_CONTEXT: %q, %v", out, err)
	}
	if _, err := run(t, "--nats", "nats://127.0.0.1:1", "experiment", "list"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("--nats besides the context: %v, want it to win", err)
	}
	if _, err := run(t, "--nats-user", "farm", "--nats-password", "wrong", "experiment", "list"); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("--nats-user besides the context: %v, want it to win", err)
	}
	for name, want := range map[string]string{
		"jwt":     "user_jwt is set, which ejecta does not support",
		"op":      "a op: secret reference is not supported",
		"missing": "no " + filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "nats", "context", "missing.json"),
		"../farm": "want a name",
	} {
		_, err := run(t, "--context", name, "experiment", "list")
		if err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != 2 {
			t.Errorf("--context %s: %v (exit %d), want exit 2 and %q", name, err, exitCode(err), want)
		}
	}
}

// A context the stock nats CLI saved is read as it wrote it.
func TestNATSContextSavedByTheNatsCLI(t *testing.T) {
	url := startPasswordServer(t)
	cli := testenv.FindNatsCLI(t, url)
	xdg := t.TempDir()
	save := exec.Command(cli.Bin, "context", "save", "saved", "--server", url, "--user", "farm", "--password", "farm-password")
	save.Env = append(os.Environ(), "XDG_CONFIG_HOME="+xdg)
	if out, err := save.CombinedOutput(); err != nil {
		t.Fatalf("nats context save: %v\n%s", err, out)
	}
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if out, err := run(t, "--context", "saved", "streams", "ensure"); err != nil {
		t.Fatalf("streams ensure with the nats CLI's context: %q, %v", out, err)
	}
}

// --creds FILE connects with a NATS .creds file (a decentralised JWT
// setup), alone or named by a context.
func TestCredsFile(t *testing.T) {
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	skp, _ := nkeys.CreateAccount()
	spub, _ := skp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.SystemAccount = spub
	ojwt, err := oc.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ac := jwt.NewAccountClaims(apub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	sjwt, err := jwt.NewAccountClaims(spub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	ujwt, err := jwt.NewUserClaims(upub).Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "farm.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}

	opc, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	res := &server.MemAccResolver{}
	res.Store(apub, ajwt)
	res.Store(spub, sjwt)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		TrustedOperators: []*jwt.OperatorClaims{opc}, SystemAccount: spub, AccountResolver: res})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

	if _, err := run(t, "--nats", s.ClientURL(), "experiment", "list"); err == nil {
		t.Fatal("an operator-mode server let in a client without credentials")
	}
	if out, err := run(t, "--nats", s.ClientURL(), "--creds", credsFile, "streams", "ensure"); err != nil {
		t.Fatalf("streams ensure with --creds: %q, %v", out, err)
	}
	if out, err := run(t, "--nats", s.ClientURL(), "--creds", credsFile, "builders"); err != nil {
		t.Errorf("builders with --creds: %q, %v", out, err)
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	saveContext(t, "jwt-farm", `{"url":"`+s.ClientURL()+`","creds":"file://`+credsFile+`"}`)
	if out, err := run(t, "--context", "jwt-farm", "builders"); err != nil {
		t.Errorf("builders with a context naming the creds: %q, %v", out, err)
	}
}
