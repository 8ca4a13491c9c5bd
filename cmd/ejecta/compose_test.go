package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No container engine runs on the build machines, so compose.yaml is
// checked statically: every ejecta service runs a real subcommand with
// flags that subcommand accepts, and is wired to NATS and the store.
func TestComposeServicesRunRealSubcommands(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Deploy      struct {
				Replicas int `yaml:"replicas"`
			} `yaml:"deploy"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	for _, want := range []string{"nats", "minio", "builder", "uploader", "reporter"} {
		if _, ok := doc.Services[want]; !ok {
			t.Errorf("compose.yaml has no %s service", want)
		}
	}
	if !strings.Contains(strings.Join(doc.Services["nats"].Command, " "), "--jetstream") {
		t.Error("nats service does not enable JetStream")
	}
	if r := doc.Services["uploader"].Deploy.Replicas; r != 2 {
		t.Errorf("uploader replicas %d, want 2", r)
	}
	for name, svc := range doc.Services {
		if !strings.HasPrefix(svc.Image, "ejecta") {
			continue
		}
		if svc.Environment["EJECTA_NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s: EJECTA_NATS_URL %q, want nats://nats:4222", name, svc.Environment["EJECTA_NATS_URL"])
		}
		if name != "builder" && !strings.HasPrefix(svc.Environment["EJECTA_STORE"], "s3://") {
			t.Errorf("%s: EJECTA_STORE %q, want an s3:// store", name, svc.Environment["EJECTA_STORE"])
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
		if cmd.Name() != name {
			t.Errorf("service %s runs `ejecta %s`", name, cmd.Name())
		}
	}
}
