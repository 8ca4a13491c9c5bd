package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       Credentials
		err        string
	}{
		{"written by Init", credentials("builder", "s3cret"), Credentials{"builder", "s3cret"}, ""},
		{"blank lines and spaces", "\n  EJECTA_NATS_USER = viewer \n\nEJECTA_NATS_PASSWORD=pw\n", Credentials{"viewer", "pw"}, ""},
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
