package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRolesUploaderSweepsForAbandonedLogs runs an uploader as its role
// while a log its builder abandoned waits: the sweep reads the last
// message of every log through a consumer of its own on the logs stream,
// judges the log abandoned, asks for it to be stored, and it is stored and
// purged, with nothing refused on the way.
func TestRolesUploaderSweepsForAbandonedLogs(t *testing.T) {
	s := startAuthServer(t, nil, "host-a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := s.ensure(ctx, t)
	b := s.connect(t, streams.RoleBuilder, streams.Security{})
	for a := 1; a <= 2; a++ { // attempt 2 started: attempt 1 is abandoned
		c := buildlog.Chunk{Seq: 1, Stream: buildlog.StreamStdout, Data: []byte("   Compiling cfg-if v1.0.0\n")}
		if _, err := b.js.PublishMsg(ctx, buildlog.NewChunkMsg(streams.LogSubject(probeKey, a), c)); err != nil {
			t.Fatalf("builder publishes attempt %d: %v", a, err)
		}
	}
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up := s.connect(t, streams.RoleUploader, streams.Security{})
	u, err := uploader.New(uploader.Config{Name: "roles", SweepInterval: 100 * time.Millisecond}, up.nc, st, s.log)
	if err != nil {
		t.Fatal(err)
	}
	uctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- u.Run(uctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("uploader: %v", err)
		}
	}()

	logs, err := admin.js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := logs.Info(ctx, jetstream.WithSubjectFilter(streams.LogSubject(probeKey, 1)))
		if err == nil && len(info.State.Subjects) == 0 { // stored, then purged
			break
		}
		if ctx.Err() != nil || len(up.violations()) > 0 {
			t.Fatalf("the abandoned log was not stored (refused: %v)", up.violations())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := up.violations(); len(v) != 0 {
		t.Errorf("uploader refused: %v", v)
	}
}
