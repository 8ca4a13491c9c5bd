package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// startDenyingServer starts a NATS server whose anonymous clients may do
// anything but create, update or delete a stream; admin may do all.
func startDenyingServer(t *testing.T) (url string, admin jetstream.JetStream) {
	t.Helper()
	deny := []string{"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>"}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{
			{Username: "admin", Password: "admin-password"},
			{Username: "reader", Password: "reader-password", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
				Subscribe: &server.SubjectPermission{Allow: []string{">"}},
			}},
		},
		NoAuthUser: "reader",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("admin", "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return s.ClientURL(), js
}

// Read-only commands and shell completion work where streams cannot be
// created, with no credentials given: they only look the streams up. Were
// they to create or update one (as they did with --replicas), the server
// would refuse and the command fail. Nor do they change what exists.
func TestReadOnlyCommandsChangeNoStream(t *testing.T) {
	url, admin := startDenyingServer(t)
	ctx := context.Background()
	if err := streams.Ensure(ctx, admin, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	reg := testenv.CrateRegistry(t)
	g := []string{"--nats", url, "--log-level", "warn"}

	if _, err := producer.New(admin, zerolog.Nop()).Create(ctx, producer.Request{Name: "ro", Toolchains: []string{"stable", "nightly"},
		Mode: "check-only", Crates: "cfg-if", CrateSource: reg, NoToolchainCheck: true}); err != nil {
		t.Fatal(err)
	}
	k := streams.BuildKey{Experiment: "ro", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}
	buildlogtest.NewLog(t, admin, k, 1).Write("a line\n")
	before := streamConfigs(t, admin)

	store := "file://" + t.TempDir()
	for _, args := range [][]string{
		{"builders"},
		{"builders", "-o", "json"},
		{"experiment", "list"},
		{"experiment", "status", "ro"},
		{"experiment", "status", "ro", "--replicas", "3"},
		{"dead-letters"},
		{"dead-letters", "ro"},
		{"logs", "ro", "cfg-if", "--store", store},
		{"tail", "ro"},
		{"tail", "ro", "cfg-if", "--store", store},
		{cobraComplete, "tail", ""},
		{cobraComplete, "experiment", "status", ""},
		{cobraComplete, "report", ""},
	} {
		out, err := run(t, append(append([]string{}, g...), args...)...)
		if err != nil {
			t.Errorf("ejecta %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == cobraComplete && !strings.Contains(out, "ro\n") {
			t.Errorf("ejecta %s: %q, want the experiment", strings.Join(args, " "), out)
		}
	}
	if after := streamConfigs(t, admin); !equalJSON(before, after) {
		t.Errorf("stream configurations changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// cobraComplete is cobra's hidden command the shells' completion scripts run.
const cobraComplete = "__complete"

// streamConfigs is every stream's configuration, as JSON.
func streamConfigs(t *testing.T, js jetstream.JetStream) map[string]jetstream.StreamConfig {
	t.Helper()
	out := map[string]jetstream.StreamConfig{}
	names := js.StreamNames(context.Background())
	for n := range names.Name() {
		s, err := js.Stream(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = s.CachedInfo().Config
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
