package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// experiment create checks the toolchains against the live builders'
// heartbeats; with none live it warns, and --no-toolchain-check skips it.
func TestExperimentCreateToolchainCheck(t *testing.T) {
	srv := testenv.StartNATS(t)
	reg := t.TempDir()
	os.MkdirAll(filepath.Join(reg, "a-1.0.0"), 0o755)
	os.WriteFile(filepath.Join(reg, "a-1.0.0", "Cargo.toml"), []byte("[package]\nname = \"a\"\nversion = \"1.0.0\"\n"), 0o644)
	create := func(name, tcs string, extra ...string) (string, error) {
		return run(t, append([]string{"--nats", srv.URL, "--log-level", "warn", "experiment", "create", name,
			"--toolchains", tcs, "--mode", "clippy", "--crates", "a", "--crate-source", reg}, extra...)...)
	}

	out, err := create("early", "stable,beta")
	if err != nil || !strings.Contains(out, "warning: no builder is live: toolchains stable, beta not checked") ||
		!strings.Contains(out, "experiment early created") {
		t.Fatalf("create with no builder live: %q, %v", out, err)
	}

	_, js := srv.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, streams.BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := json.Marshal(streams.Heartbeat{V: 1, ID: "b1", Host: "h", Slots: 1, Updated: time.Now().UTC(),
		Toolchains: []string{"nightly-x86_64-unknown-linux-gnu", "stable-x86_64-unknown-linux-gnu"}})
	if _, err := kv.Put(ctx, "b1", hb); err != nil {
		t.Fatal(err)
	}

	_, err = create("refused", "stable,beta")
	var ue usageError
	want := `toolchains: no live builder has "beta" (1 live builders have: nightly-x86_64-unknown-linux-gnu, stable-x86_64-unknown-linux-gnu)`
	if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &ue) {
		t.Errorf("create with beta: %v, want a usage error containing %q", err, want)
	}
	if out, err := create("forced", "stable,beta", "--no-toolchain-check"); err != nil || strings.Contains(out, "warning") {
		t.Errorf("create --no-toolchain-check: %q, %v", out, err)
	}
	if out, err := create("fine", "stable,nightly"); err != nil || strings.Contains(out, "warning") {
		t.Errorf("create stable,nightly: %q, %v", out, err)
	}
}
