package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/streams"
)

// heartbeats keeps this builder's entry in BuildersBucket (under its
// streams.HeartbeatKey) fresh until ctx ends. The bucket's TTL removes the
// entry of a builder that died without deleting it.
func (b *Builder) heartbeats(ctx context.Context) {
	host, _ := os.Hostname()
	t := time.NewTicker(b.cfg.HeartbeatEvery)
	defer t.Stop()
	var kv jetstream.KeyValue
	failures := 0
	for {
		var err error
		if kv == nil {
			kv, err = b.js.KeyValue(ctx, streams.BuildersBucket)
		}
		var data []byte
		if err == nil {
			data, err = b.heartbeat(host)
		}
		if err == nil {
			_, err = kv.Put(ctx, streams.HeartbeatKey(b.sender, b.cfg.ID), data)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Log the first failure of a run only; the builder works on
			// without a heartbeat, it is just invisible.
			if failures == 0 {
				b.log.Warn().Err(err).Msg("heartbeat failed")
			}
			failures++
			kv = nil
		case failures > 0:
			b.log.Info().Int("failures", failures).Msg("heartbeat restored")
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.changed:
			// Slots starting and ending builds together make one
			// heartbeat, not one each.
			if backoff.Sleep(ctx, heartbeatCoalesce) != nil {
				return
			}
		}
	}
}

// heartbeatCoalesce is how long a heartbeat asked for by a change waits
// for more changes.
const heartbeatCoalesce = 100 * time.Millisecond

func (b *Builder) heartbeat(host string) ([]byte, error) {
	b.mu.Lock()
	running := make([]streams.RunningBuild, 0, len(b.running))
	for _, rb := range b.running {
		running = append(running, rb)
	}
	paused := b.paused
	b.mu.Unlock()
	slices.SortFunc(running, func(x, y streams.RunningBuild) int { return x.Started.Compare(y.Started) })
	hb := streams.Heartbeat{
		V: streams.SchemaVersion, ID: b.cfg.ID, Host: host, Slots: b.cfg.Slots,
		Running: running, Toolchains: b.cfg.toolchains(), Updated: time.Now().UTC(),
		Version: b.cfg.Version, Paused: paused,
	}
	if free, err := freeDisk(b.cfg.WorkDir); err == nil {
		hb.FreeDiskBytes = free
	}
	data, err := json.Marshal(hb)
	if err != nil {
		return nil, fmt.Errorf("encode heartbeat: %w", err)
	}
	return data, nil
}

// deleteHeartbeat removes our entry on a clean shutdown.
func (b *Builder) deleteHeartbeat(ctx context.Context) {
	kv, err := b.js.KeyValue(ctx, streams.BuildersBucket)
	if err == nil {
		err = kv.Delete(ctx, streams.HeartbeatKey(b.sender, b.cfg.ID))
	}
	if err != nil && !strings.Contains(err.Error(), "not found") {
		b.log.Warn().Err(err).Msg("delete heartbeat")
	}
}
