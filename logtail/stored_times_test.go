package logtail_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/uploader"
)

// A log stored by an uploader keeps the time each chunk was written (its
// times index), so reading it stored gives every byte the time it had
// live, from the first byte or from an offset.
func TestStoredLogKeepsItsTimes(t *testing.T) {
	js, st := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := uploader.New(uploader.Config{Name: "u"}, js.Conn(), st, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = u.Run(ctx) }()

	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	chunks := []struct {
		text string
		at   time.Time
	}{
		{"   Compiling cfg-if\n", t0},
		{"warning: one\nwarning: two\n", t0.Add(1500 * time.Millisecond)},
		{"same time, a chunk of its own\n", t0.Add(1500 * time.Millisecond)},
		{"    Finished\n", t0.Add(90 * time.Second)},
	}
	log := buildlogtest.NewLog(t, js, build, 3)
	for _, c := range chunks {
		log.WriteAt(c.text, c.at)
	}
	end := log.End(streams.StatusTestPass)
	data, _ := json.Marshal(streams.UploadRequest{V: streams.SchemaVersion, BuildKey: build, Attempt: 3, End: end})
	if _, err := js.Publish(ctx, streams.UploadSubject(build, 3), data); err != nil {
		t.Fatal(err)
	}
	for {
		if rc, err := st.Get(ctx, streams.ExperimentPrefix(build.Experiment)+streams.LogMetaKey(build, 3)); err == nil {
			rc.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatal("log not stored")
		}
		time.Sleep(50 * time.Millisecond)
	}

	r := logtail.New(js, st)
	if res, err := r.Copy(ctx, build, 3, &pieces{}, logtail.Options{}); err != nil || !res.Stored {
		t.Fatalf("copy: %+v, %v; want the stored log", res, err)
	}
	for _, c := range []struct {
		from uint64
		want []string
	}{
		{0, []string{
			"04:00:00.000 \"   Compiling cfg-if\\n\"",
			"04:00:01.500 \"warning: one\\nwarning: two\\nsame time, a chunk of its own\\n\"",
			"04:01:30.000 \"    Finished\\n\"",
		}},
		{25, []string{
			"04:00:01.500 \"ng: one\\nwarning: two\\nsame time, a chunk of its own\\n\"",
			"04:01:30.000 \"    Finished\\n\"",
		}},
	} {
		got := timedPieces(t, r, c.from)
		if !slices.Equal(got, c.want) {
			t.Errorf("from %d:\n%s\nwant\n%s", c.from, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// pieces records each timed write, merging writes of one time.
type pieces struct {
	got  []string
	text strings.Builder
	at   time.Time
}

func (p *pieces) Write(b []byte) (int, error) { return p.WriteTimed(b, time.Time{}) }

func (p *pieces) WriteTimed(b []byte, at time.Time) (int, error) {
	if p.text.Len() > 0 && !at.Equal(p.at) {
		p.flush()
	}
	p.at = at
	p.text.Write(b)
	return len(b), nil
}

func (p *pieces) flush() {
	if p.text.Len() > 0 {
		p.got = append(p.got, fmt.Sprintf("%s %q", p.at.Format("15:04:05.000"), p.text.String()))
	}
	p.text.Reset()
}

func timedPieces(t *testing.T, r *logtail.Reader, from uint64) []string {
	t.Helper()
	var p pieces
	if _, err := r.Copy(context.Background(), build, 3, &p, logtail.Options{From: from}); err != nil {
		t.Fatal(err)
	}
	p.flush()
	return p.got
}
