package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/streams"
)

// TestAuthInitThenRolesUseTheCLI follows the production set-up: `auth
// init`, a server on the generated config, `streams ensure` as admin, then
// commands as roles with --nats-credentials or --nats-user/--nats-password.
func TestAuthInitThenRolesUseTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	if out, err := run(t, "auth", "init", dir, "--store-dir", t.TempDir()); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	for _, name := range []string{auth.ServerConfigFile, auth.UsersFile, "builder.env", "viewer.env", "admin.env"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	// A second init would replace every password: only with --force.
	_, err := run(t, "auth", "init", dir)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second auth init: %v, want a usage error naming --force", err)
	}

	s := startConfiguredServer(t, dir)
	base := []string{"--nats", s.ClientURL(), "--log-level", "error"}
	as := func(role string) []string {
		return append(append([]string{}, base...), "--nats-credentials", filepath.Join(dir, role+".env"))
	}

	// Before an admin ensured the streams a role is told what to run.
	out, err := run(t, append(as("viewer"), "experiment", "list")...)
	if err == nil || !strings.Contains(err.Error(), "ejecta streams ensure") {
		t.Fatalf("viewer before ensure: %v\n%s, want an error naming `ejecta streams ensure`", err, out)
	}
	start := time.Now()
	if out, err := run(t, append(as("builder"), "streams", "ensure")...); err == nil || !strings.Contains(err.Error(), "only the admin role") {
		t.Fatalf("builder ran streams ensure: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a refused streams ensure took %s to fail", d)
	}
	if out, err := run(t, append(as("admin"), "streams", "ensure")...); err != nil || !strings.Contains(out, "ensured") {
		t.Fatalf("admin streams ensure: %v\n%s", err, out)
	}
	if out, err := run(t, append(as("viewer"), "experiment", "list")...); err != nil {
		t.Fatalf("viewer experiment list: %v\n%s", err, out)
	}
	c, err := auth.ReadCredentials(filepath.Join(dir, "viewer.env"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, append(base, "--nats-user", c.User, "--nats-password", c.Password, "builders")...); err != nil {
		t.Fatalf("viewer by user and password: %v\n%s", err, out)
	}
	if _, err := run(t, append(base, "--nats-user", "viewer", "--nats-password", "wrong", "experiment", "list")...); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("wrong password: %v, want an authorization violation", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-user", "viewer"}, "without a password"},
		{[]string{"--nats-credentials", filepath.Join(dir, "missing.env")}, "--nats-credentials"},
		{[]string{"--tls-cert", filepath.Join(dir, "c.pem")}, "tls cert and tls key"},
	} {
		_, err := run(t, append(append(append([]string{}, base...), tc.args...), "experiment", "list")...)
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestAuthClusterValidation(t *testing.T) {
	dir := t.TempDir()
	three := []string{"--routes", "a:6222,b:6222,c:6222", "--clients", "a:4222,b:4222,c:4222"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--routes", "a:6222,b:6222", "--clients", "a:4222,b:4222"}, "at least 3 nodes"},
		{[]string{"--routes", "a:6222,b:6222,c:6222", "--clients", "a:4222"}, "one address per node"},
		{[]string{"--routes", "a:6222,b,c:6222", "--clients", "a:4222,b:4222,c:4222"}, `"b": want HOST:PORT`},
		{three, "run auth init first"},
	} {
		_, err := run(t, append([]string{"auth", "cluster", dir}, tc.args...)...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("auth cluster %v: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	if out, err := run(t, "auth", "init", dir); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	cert := filepath.Join(dir, "node.pem")
	if err := os.WriteFile(cert, []byte("unused"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, append([]string{"auth", "cluster", dir, "--server-tls-cert", cert, "--server-tls-key", filepath.Join(dir, "missing-key.pem")}, three...)...)
	if ue := (usageError{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "tls key") || !strings.Contains(err.Error(), "missing-key.pem") {
		t.Errorf("auth cluster with a missing tls key: %v, want a usage error naming the tls key and its file", err)
	}
	if out, err := run(t, append([]string{"auth", "cluster", dir}, three...)...); err != nil {
		t.Fatalf("auth cluster: %v\n%s", err, out)
	}
	for i := 1; i <= 3; i++ {
		opts, err := server.ProcessConfigFile(filepath.Join(dir, auth.NodeConfigFile(i)))
		if err != nil {
			t.Fatalf("node %d config: %v", i, err)
		}
		if len(opts.Routes) != 2 || opts.Cluster.Name != "ejecta" || opts.ServerName != "ejecta-"+string(rune('0'+i)) || len(opts.Users) != 6 {
			t.Errorf("node %d: routes %v, cluster %q, server %q, %d users", i, opts.Routes, opts.Cluster.Name, opts.ServerName, len(opts.Users))
		}
	}
}

// TestJobKeyFromCredentials: a command that queues jobs or checks results
// runs as a role only with the job key. `auth init` gives it to the roles
// that need it, and a producer with it records its experiments as carrying
// tickets; one without it, as a role, refuses to start, naming
// EJECTA_JOB_KEY.
func TestJobKeyFromCredentials(t *testing.T) {
	t.Setenv(auth.JobKeyEnv, "")
	dir := filepath.Join(t.TempDir(), "nats")
	if out, err := run(t, "auth", "init", dir, "--store-dir", t.TempDir()); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	s := startConfiguredServer(t, dir)
	as := func(role string, args ...string) []string {
		return append([]string{"--nats", s.ClientURL(), "--log-level", "error", "--nats-credentials", filepath.Join(dir, role+".env")}, args...)
	}
	if out, err := run(t, as("admin", "streams", "ensure")...); err != nil {
		t.Fatalf("admin streams ensure: %v\n%s", err, out)
	}
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a-1.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a-1.0.0", "Cargo.toml"), []byte("[package]\nname = \"a\"\nversion = \"1.0.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	create := func(name string) []string {
		return []string{"experiment", "create", name, "--toolchains", "stable,nightly", "--mode", "check-only",
			"--crates", "a", "--crate-source", src, "--no-toolchain-check"}
	}
	store := "file://" + t.TempDir()
	for _, args := range [][]string{
		as("viewer", create("nokey")...),
		as("builder", "reporter", "--store", store),
		as("builder", "uploader", "--store", store),
	} {
		_, err := run(t, args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), auth.JobKeyEnv) {
			t.Errorf("%v: %v, want a usage error naming %s", args[len(args)-3:], err, auth.JobKeyEnv)
		}
	}
	if out, err := run(t, as("producer", create("signed")...)...); err != nil {
		t.Fatalf("create as producer: %v\n%s", err, out)
	}
	out, err := run(t, as("viewer", "experiment", "list", "--output", "json")...)
	if err != nil || !strings.Contains(out, `"tickets": true`) || strings.Contains(out, "nokey") {
		t.Errorf("experiments: %v\n%s\nwant only signed, with tickets", err, out)
	}
}

// With --builders each builder host gets a user of its own, whose replies
// arrive on its own inbox prefix; the generated server takes them, and
// there is no shared builder user left. A bad host name is bad input that
// names the flag.
func TestAuthInitBuilderHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nats")
	if out, err := run(t, "auth", "init", dir, "--store-dir", t.TempDir(), "--builders", "host-a,host-b"); err != nil ||
		!strings.Contains(out, "builder-host-a.env") {
		t.Fatalf("auth init --builders: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "builder.env")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("builder.env written beside the hosts' own: %v", err)
	}
	s := startConfiguredServer(t, dir)
	base := []string{"--nats", s.ClientURL(), "--log-level", "error"}
	if out, err := run(t, append(base, "--nats-credentials", filepath.Join(dir, "admin.env"), "streams", "ensure")...); err != nil {
		t.Fatalf("admin streams ensure: %v\n%s", err, out)
	}
	for _, host := range []string{"host-a", "host-b"} {
		c, err := auth.ReadCredentials(filepath.Join(dir, "builder-"+host+".env"))
		if err != nil {
			t.Fatal(err)
		}
		o, err := streams.Security{User: c.User, Password: c.Password}.Options()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.ClientURL(), o...)
		if err != nil {
			t.Fatalf("%s connects: %v", c.User, err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		// A JetStream API call: its reply comes to the host's own inbox.
		if _, err := js.Stream(context.Background(), streams.LogsStream); err != nil {
			t.Errorf("%s reads the logs stream's info: %v", c.User, err)
		}
		nc.Close()
	}
	_, err := run(t, "auth", "init", filepath.Join(t.TempDir(), "x"), "--builders", "Host_A")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "builders") {
		t.Errorf("auth init --builders Host_A: %v, want a usage error naming builders", err)
	}
}

// startConfiguredServer starts a server on the configuration `auth init`
// wrote in dir, on a free port.
func startConfiguredServer(t *testing.T, dir string) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(dir, auth.ServerConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	opts.Port, opts.NoSigs = -1, true
	return startServer(t, opts)
}
