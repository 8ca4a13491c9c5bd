package main

import (
	"cmp"
	"flag"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string `yaml:"image"`
	Restart     string `yaml:"restart"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	EnvFile     stringList        `yaml:"env_file"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   dependsOn         `yaml:"depends_on"`
	Deploy      struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

// stringList is a compose field that is one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	return n.Decode((*[]string)(l))
}

// dependsOn maps each service depended on to its condition, from either of
// compose's forms: a list of services (each service_started) or a map.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, s := range names {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for s, c := range m {
		(*d)[s] = cmp.Or(c.Condition, "service_started")
	}
	return nil
}

// composeRoles is the role each ejecta service of compose.yaml runs as.
var composeRoles = map[string]streams.Role{
	"streams-ensure": streams.RoleAdmin,
	"builder":        streams.RoleBuilder,
	"uploader":       streams.RoleUploader,
	"reporter":       streams.RoleReporter,
	"web":            streams.RoleViewer,
}

// isEjecta reports whether svc runs the ejecta image (by default, with
// none of compose's variables set).
func (svc composeService) isEjecta() bool {
	image, _ := interpolate(svc.Image)
	return strings.HasPrefix(image, "ejecta:")
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc composeFile
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	return doc, string(data)
}

var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-|:\?)([^}]*)\}`)

// interpolate does what compose does to s with none of its variables set:
// ${VAR:-default} becomes default; ${VAR:?message} would stop compose, and
// is returned in required.
func interpolate(s string) (out string, required []string) {
	out = composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if sub[2] == ":?" {
			required = append(required, sub[1])
			return ""
		}
		return sub[3]
	})
	return out, required
}

// compose.yaml, read without an engine (TestComposeRunsAnExperiment runs
// it on one): every ejecta service runs a real subcommand with flags that
// subcommand accepts, is wired to NATS and the store, and every
// long-running one restarts and is probed on its /readyz.
func TestComposeServicesRunRealSubcommands(t *testing.T) {
	doc, _ := readCompose(t)
	ejecta := 0
	for _, want := range []string{"nats", "minio", "streams-ensure", "builder", "uploader", "reporter", "web"} {
		if _, ok := doc.Services[want]; !ok {
			t.Errorf("compose.yaml has no %s service", want)
		}
	}
	if !strings.Contains(strings.Join(doc.Services["nats"].Command, " "), "--config") {
		t.Error("nats service does not start from a configuration file")
	}
	if r := doc.Services["uploader"].Deploy.Replicas; r != 2 {
		t.Errorf("uploader replicas %d, want 2", r)
	}
	for name, svc := range doc.Services {
		if !svc.isEjecta() {
			continue
		}
		ejecta++
		if name != "streams-ensure" {
			if svc.Restart != "unless-stopped" {
				t.Errorf("%s: restart %q, want unless-stopped", name, svc.Restart)
			}
			if probe := strings.Join(svc.Healthcheck.Test, " "); !strings.Contains(probe, "ejecta healthcheck http://127.0.0.1:9090/readyz") ||
				svc.Environment["EJECTA_METRICS_ADDR"] != ":9090" {
				t.Errorf("%s: healthcheck %q with EJECTA_METRICS_ADDR %q, want `ejecta healthcheck` on :9090's /readyz", name, probe, svc.Environment["EJECTA_METRICS_ADDR"])
			}
		}
		if svc.Environment["EJECTA_NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s: EJECTA_NATS_URL %q, want nats://nats:4222", name, svc.Environment["EJECTA_NATS_URL"])
		}
		if (name == "uploader" || name == "reporter" || name == "web") && !strings.HasPrefix(svc.Environment["EJECTA_STORE"], "s3://") {
			t.Errorf("%s: EJECTA_STORE %q, want an s3:// store", name, svc.Environment["EJECTA_STORE"])
		}
		if name != "streams-ensure" && svc.DependsOn["streams-ensure"] != "service_completed_successfully" {
			t.Errorf("%s: starts before streams-ensure has created the streams (depends_on %v)", name, svc.DependsOn)
		}
		root := newRootCmd()
		cmd, rest, err := root.Find(svc.Command)
		if err != nil || cmd == root {
			t.Errorf("%s: command %q is not an ejecta subcommand: %v", name, svc.Command, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: command %q: %v", name, svc.Command, err)
		}
		if runs := strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), " ", "-"); runs != name {
			t.Errorf("service %s runs `%s`", name, cmd.CommandPath())
		}
	}
	if ejecta != len(composeRoles) {
		t.Errorf("%d services run the ejecta image, want %d (%v)", ejecta, len(composeRoles), composeRoles)
	}
}

// The NATS image compose.yaml names by default is the nats-server version
// go.mod names: the one every test runs.
func TestComposeNATSImageIsTheTestedVersion(t *testing.T) {
	doc, _ := readCompose(t)
	image, _ := interpolate(doc.Services["nats"].Image)
	data, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod names no nats-server")
	}
	if want := "nats:" + string(m[1]); image != want {
		t.Errorf("nats image %s, want %s (go.mod's nats-server)", image, want)
	}
}

// compose.yaml holds no secret: every password, secret key or user that
// guards something is a variable compose refuses to start without, NATS
// credentials come from the role files, and every port is published on
// loopback only.
func TestComposeHoldsNoSecrets(t *testing.T) {
	doc, _ := readCompose(t)
	secret := regexp.MustCompile(`PASSWORD|SECRET|ACCESS_KEY|ROOT_USER|NATS_USER`)
	required := regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$`)
	for name, svc := range doc.Services {
		for k, v := range svc.Environment {
			if strings.HasPrefix(k, "EJECTA_NATS_") && k != "EJECTA_NATS_URL" {
				t.Errorf("%s: %s set in compose.yaml, want it from the role's env_file", name, k)
			}
			if secret.MatchString(k) && !required.MatchString(v) {
				t.Errorf("%s: %s is %q, want a variable the operator must set: ${VAR:?message}", name, k, v)
			}
		}
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published on every address, want 127.0.0.1:HOST:CONTAINER", name, p)
			}
		}
	}
	minio := doc.Services["minio"].Environment
	for _, k := range []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} {
		if _, req := interpolate(minio[k]); len(req) != 1 || req[0] != k {
			t.Errorf("minio: %s is %q, want ${%s:?...}", k, minio[k], k)
		}
	}
}

// The nats service, started on what `ejecta auth init` writes into the
// directory compose mounts, refuses a client without credentials, and
// every ejecta service's env_file is its own role's credentials there.
func TestComposeNATSRequiresEveryRole(t *testing.T) {
	doc, _ := readCompose(t)
	svc := doc.Services["nats"]
	// The operator's step (README, compose.yaml), in a directory of our own
	// standing in for the one compose mounts.
	authDir := t.TempDir()
	if out, err := run(t, "auth", "init", authDir, "--store-dir", "/data"); err != nil {
		t.Fatalf("auth init: %v\n%s", err, out)
	}
	args := append([]string{}, svc.Command...)
	var hostAuthDir string
	for i, a := range args {
		if (a == "--config" || a == "-c") && i+1 < len(args) {
			for _, v := range svc.Volumes {
				v, _ = interpolate(v)
				host, rest, _ := strings.Cut(v, ":")
				target, _, _ := strings.Cut(rest, ":")
				if path.Dir(args[i+1]) == target {
					hostAuthDir = host
					args[i+1] = filepath.Join(authDir, path.Base(args[i+1]))
				}
			}
		}
	}
	if hostAuthDir == "" {
		t.Fatalf("nats command %q: no --config in a mounted directory", svc.Command)
	}
	opts, err := server.ConfigureOptions(flag.NewFlagSet("nats-server", flag.ContinueOnError), args, func() {}, func() {}, func() {})
	if err != nil {
		t.Fatalf("nats-server %q: %v", args, err)
	}
	if !opts.JetStream {
		t.Error("nats: JetStream not enabled")
	}
	if !slicesContainPrefix(svc.Volumes, "nats-data:"+opts.StoreDir) {
		t.Errorf("nats: store_dir %s is not on the nats-data volume (%q)", opts.StoreDir, svc.Volumes)
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.StoreDir = "127.0.0.1", -1, 0, t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	if nc, err := nats.Connect(s.ClientURL(), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("nats: a client without credentials was let in")
	} else if !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("nats: connect without credentials: %v, want an authorization violation", err)
	}

	for name, svc := range doc.Services {
		if !svc.isEjecta() {
			continue
		}
		role, ok := composeRoles[name]
		if !ok {
			t.Errorf("%s: no role known for this service", name)
			continue
		}
		if len(svc.EnvFile) != 1 {
			t.Errorf("%s: env_file %q, want the %s role's credentials", name, svc.EnvFile, role)
			continue
		}
		file, _ := interpolate(svc.EnvFile[0])
		if want := path.Join(hostAuthDir, auth.CredentialsFile(role)); path.Clean(file) != path.Clean(want) {
			t.Errorf("%s: env_file %s, want %s", name, file, want)
			continue
		}
		c, err := auth.ReadCredentials(filepath.Join(authDir, auth.CredentialsFile(role)))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(c.User, c.Password), nats.Timeout(5*time.Second))
		if err != nil {
			t.Errorf("%s: connect as %s: %v", name, c.User, err)
			continue
		}
		nc.Close()
		if c.User != string(role) {
			t.Errorf("%s: runs as %s, want %s", name, c.User, role)
		}
	}
}

func slicesContainPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
