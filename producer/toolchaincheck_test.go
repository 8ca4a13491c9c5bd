package producer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// putHeartbeat makes builder id live with the given installed toolchains,
// as its heartbeat would.
func putHeartbeat(ctx context.Context, t *testing.T, js jetstream.JetStream, id string, toolchains ...string) {
	t.Helper()
	kv, err := js.KeyValue(ctx, streams.BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(streams.Heartbeat{V: streams.SchemaVersion, ID: id, Host: "h", Slots: 1,
		Toolchains: toolchains, Updated: time.Now().UTC()})
	if _, err := kv.Put(ctx, id, data); err != nil {
		t.Fatal(err)
	}
}

func TestCreateChecksToolchainsAgainstLiveBuilders(t *testing.T) {
	src := fakeRegistry(t, "a@1.0.0")
	req := func(name string, tcs ...string) producer.Request {
		return producer.Request{Name: name, Toolchains: tcs, Mode: "check-only", Crates: "a", CrateSource: src}
	}

	t.Run("no builder live: accepted with a warning", func(t *testing.T) {
		ctx, js, p := setup(t)
		out, err := p.Create(ctx, req("early", "stable", "beta"))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "no builder is live: toolchains stable, beta not checked") {
			t.Errorf("warnings %q", out.Warnings)
		}
		if n := len(jobs(ctx, t, js)); n != 2 {
			t.Errorf("%d jobs queued, want 2", n)
		}
	})

	ctx, js, p := setup(t)
	putHeartbeat(ctx, t, js, "b1", "stable-x86_64-unknown-linux-gnu")
	putHeartbeat(ctx, t, js, "b2", "nightly-x86_64-unknown-linux-gnu", "stable-x86_64-unknown-linux-gnu", "/opt/rust/stage2")
	have := "(2 live builders have: /opt/rust/stage2, nightly-x86_64-unknown-linux-gnu, stable-x86_64-unknown-linux-gnu)"
	tests := []struct {
		name    string
		r       producer.Request
		wantErr string // "" accepted
	}{
		{"both installed", req("ok", "stable", "nightly"), ""},
		{"full names", req("full", "stable-x86_64-unknown-linux-gnu", "nightly"), ""},
		{"beta missing", req("beta", "stable", "beta"), `toolchains: no live builder has "beta" ` + have},
		// "nightly" installed does not make a dated nightly available.
		{"dated nightly missing", req("dated", "nightly-2026-01-01", "stable"), `toolchains: no live builder has "nightly-2026-01-01" ` + have},
		{"a toolchain directory one builder offers", req("path", "nightly", "/opt/rust/stage2"), ""},
		{"a directory no builder offers", req("path2", "nightly", "/opt/rust/stage1"), `toolchains: no live builder has "/opt/rust/stage1" ` + have},
		{"check skipped", func() producer.Request { r := req("skip", "stable", "beta"); r.NoToolchainCheck = true; return r }(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(jobs(ctx, t, js))
			out, err := p.Create(ctx, tt.r)
			added := len(jobs(ctx, t, js)) - before
			if tt.wantErr == "" {
				if err != nil || len(out.Warnings) != 0 || added != 2 {
					t.Errorf("err %v, warnings %q, %d jobs added; want accepted with 2 jobs", err, out.Warnings, added)
				}
				return
			}
			var ie *producer.InvalidError
			if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) ||
				!strings.Contains(err.Error(), "--no-toolchain-check") {
				t.Errorf("err %v, want an input error containing %q", err, tt.wantErr)
			}
			if added != 0 {
				t.Errorf("%d jobs queued for a refused experiment", added)
			}
			kv, _ := js.KeyValue(ctx, streams.ExperimentsBucket)
			if _, err := kv.Get(ctx, tt.r.Name); !errors.Is(err, jetstream.ErrKeyNotFound) {
				t.Errorf("refused experiment recorded (%v)", err)
			}
		})
	}
}
