package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

func TestReadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       Credentials
		err        string
	}{
		{"written by Init", credentials("builder", "builder", "s3cret", streams.JobKey{}), Credentials{User: "builder", Password: "s3cret"}, ""},
		{"blank lines and spaces", "\n  EJECTA_NATS_USER = viewer \n\nEJECTA_NATS_PASSWORD=pw\n", Credentials{User: "viewer", Password: "pw"}, ""},
		{"a bad job key", "EJECTA_NATS_USER=reporter\nEJECTA_NATS_PASSWORD=pw\nEJECTA_JOB_KEY=short\n", Credentials{}, "line 3: EJECTA_JOB_KEY"},
		{"no password", "EJECTA_NATS_USER=viewer\n", Credentials{}, "no EJECTA_NATS_PASSWORD"},
		{"no user", "EJECTA_NATS_PASSWORD=pw\n", Credentials{}, "no EJECTA_NATS_USER"},
		{"not an assignment", "EJECTA_NATS_USER viewer\n", Credentials{}, "line 1: want KEY=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "role.env")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadCredentials(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ReadCredentials = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestInitValidation(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Listen: "0.0.0.0:4222", StoreDir: "/s"}, "dir:"},
		{Options{Dir: dir, StoreDir: "/s"}, "listen:"},
		{Options{Dir: dir, Listen: "0.0.0.0:4222", StoreDir: "/s", TLS: &ServerTLS{CertFile: "c.pem"}}, "tls"},
		{Options{Dir: dir, Listen: "0.0.0.0:4222", StoreDir: "/s", TLS: &ServerTLS{CertFile: "/none", KeyFile: "/none", CAFile: "/none"}}, "no such file"},
	} {
		if err := Init(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Init(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
}

// Init gives the job key to the roles that publish jobs or check what comes
// back, never to builders or viewers; --force keeps it unless a new one is
// asked for.
func TestInitJobKey(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Listen: "127.0.0.1:4222", StoreDir: t.TempDir()}
	if err := Init(o); err != nil {
		t.Fatal(err)
	}
	keys := func() map[streams.Role]string {
		t.Helper()
		out := map[streams.Role]string{}
		for _, r := range streams.Roles {
			c, err := ReadCredentials(filepath.Join(dir, CredentialsFile(r)))
			if err != nil {
				t.Fatal(err)
			}
			out[r] = c.JobKey.Encode()
		}
		return out
	}
	first := keys()
	key := first[streams.RoleAdmin]
	for r, k := range first {
		want := ""
		if r == streams.RoleProducer || r == streams.RoleReporter || r == streams.RoleUploader || r == streams.RoleAdmin {
			want = key
		}
		if k != want {
			t.Errorf("%s.env: job key %q, want %q", r, k, want)
		}
	}
	if key == "" {
		t.Fatal("no job key written")
	}
	for _, r := range []streams.Role{streams.RoleBuilder, streams.RoleViewer} {
		data, err := os.ReadFile(filepath.Join(dir, CredentialsFile(r)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), JobKeyEnv) {
			t.Errorf("%s.env mentions %s:\n%s", r, JobKeyEnv, data)
		}
	}

	o.Force = true
	if err := Init(o); err != nil {
		t.Fatal(err)
	}
	if again := keys(); again[streams.RoleReporter] != key {
		t.Errorf("--force changed the job key")
	}
	o.NewJobKey = true
	if err := Init(o); err != nil {
		t.Fatal(err)
	}
	if again := keys(); again[streams.RoleReporter] == key || again[streams.RoleReporter] != again[streams.RoleProducer] {
		t.Errorf("a new job key asked for: reporter %q, producer %q (was %q)", again[streams.RoleReporter], again[streams.RoleProducer], key)
	}
}

func TestLoadOrCreateJobKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), JobKeyFile)
	k, created, err := LoadOrCreateJobKey(path)
	if err != nil || !created || k.IsZero() {
		t.Fatalf("first: %v, created %v, %v", k, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	again, created, err := LoadOrCreateJobKey(path)
	if err != nil || created || again.Encode() != k.Encode() {
		t.Errorf("second: created %v, same key %v, %v", created, again.Encode() == k.Encode(), err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateJobKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a bad key file: %v, want an error naming it", err)
	}
}
