package logtail_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
)

func TestSize(t *testing.T) {
	js, st := setup(t)
	ctx := context.Background()
	r := logtail.New(js, st)
	l := buildlogtest.NewLog(t, js, build, 1)
	check := func(what string, want logtail.Size) {
		t.Helper()
		got, err := r.Size(ctx, build, 1)
		if err != nil || got != want {
			t.Fatalf("%s: size %+v (%v), want %+v", what, got, err, want)
		}
	}
	if _, err := r.Size(ctx, build, 1); !errors.Is(err, logtail.ErrNoLog) {
		t.Fatalf("size of a log not started: %v, want ErrNoLog", err)
	}
	l.Write("12345")
	l.Write("678\n")
	check("live", logtail.Size{Bytes: 9})
	l.End(streams.StatusTestPass)
	check("ended", logtail.Size{Bytes: 9, Complete: true})
	l.StoreAndPurge(st)
	check("stored", logtail.Size{Bytes: 9, Complete: true, Stored: true})
}

func TestCopyHandsChunkTimesToATimedWriter(t *testing.T) {
	js, st := setup(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := buildlogtest.NewLog(t, js, build, 1)
	l.WriteAt("a\n", t0)
	l.WriteAt("b\n", t0.Add(time.Second))
	var out buildlogtest.TimedBuffer
	if _, err := logtail.New(js, st).Copy(context.Background(), build, 1, &out, logtail.Options{}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\n" || len(out.Times) != 2 || !out.Times[0].Equal(t0) || !out.Times[1].Equal(t0.Add(time.Second)) {
		t.Fatalf("read %q with times %v", out.String(), out.Times)
	}
}
