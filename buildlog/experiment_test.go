package buildlog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
)

func TestFollowExperimentReadsEveryLiveLog(t *testing.T) {
	js := startJetStream(t, streams.DefaultConfig())
	a := buildlogtest.NewLog(t, js, streams.BuildKey{Experiment: "e1", Crate: "a", Version: "1.0.0", Toolchain: "stable"}, 1)
	b := buildlogtest.NewLog(t, js, streams.BuildKey{Experiment: "e1", Crate: "b", Version: "2.0.0", Toolchain: "nightly"}, 2)
	other := buildlogtest.NewLog(t, js, streams.BuildKey{Experiment: "e2", Crate: "a", Version: "1.0.0", Toolchain: "stable"}, 1)
	a.Write("a1\n")
	b.Write("b1\n")
	other.Write("not e1\n")
	a.Write("a2\n")
	a.End(streams.StatusTestPass)

	var got []string
	err := buildlog.FollowExperiment(context.Background(), js, "e1", false, func(p buildlog.Piece) error {
		if p.End != nil {
			got = append(got, p.Build.Crate+" end")
		} else {
			got = append(got, p.Build.Crate+" "+strings.TrimSpace(string(p.Chunk.Data)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, ", "); s != "a a1, b b1, a a2, a end" {
		t.Fatalf("read %s", s)
	}
	if err := buildlog.FollowExperiment(context.Background(), js, "e3", false, func(buildlog.Piece) error {
		t.Error("a piece of an experiment with no log")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
