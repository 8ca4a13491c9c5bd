package buildlog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
)

// The log cap keeps the head of a build's output as it comes and, past it,
// the end of each step's output after a line saying how much was left out;
// the log read back from JetStream is exactly that.
func TestLogCap(t *testing.T) {
	out := func(stream, text string) write { return write{stream, text} }
	const max = 40 // head 30, tail 10
	tests := []struct {
		name    string
		max     int64
		steps   [][]write
		want    string
		omitted int
	}{
		{"under the cap", max, [][]write{{out("o", "0123456789"), out("e", "abc")}},
			"0123456789abc", 0},
		{"no cap", 0, [][]write{{out("o", strings.Repeat("x", 100))}},
			strings.Repeat("x", 100), 0},
		{"past the head in one write", max, [][]write{{out("o", strings.Repeat("h", 30)+"dropped---0123456789")}},
			strings.Repeat("h", 30) + "[ejecta] log cap: 10 bytes of output left out here; the log keeps the first 30 bytes of the build's output and the last 10 bytes of each step's\n0123456789", 10},
		{"over the tail but nothing dropped", max, [][]write{{out("o", strings.Repeat("h", 30)), out("e", "tail")}},
			strings.Repeat("h", 30) + "tail", 0},
		{"tail kept across streams and writes", max, [][]write{{out("o", strings.Repeat("h", 35)), out("e", "EEEEE"), out("o", "ooo"), out("e", "ee")}},
			strings.Repeat("h", 30) + "[ejecta] log cap: 5 bytes of output left out here; the log keeps the first 30 bytes of the build's output and the last 10 bytes of each step's\nEEEEEoooee", 5},
		{"each later step keeps its own tail", max, [][]write{
			{out("o", strings.Repeat("h", 30)+"0123456789")},
			{out("o", "step two: "), out("o", "a long line nobody needs, 0123456789")},
		}, strings.Repeat("h", 30) + "0123456789" + "$ step\n" +
			"[ejecta] log cap: 36 bytes of output left out here; the log keeps the first 30 bytes of the build's output and the last 10 bytes of each step's\n0123456789", 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pub, js, subj := newTestLog(t, context.Background())
			sys := buildlog.NewPrefixer(c.Writer(buildlog.StreamSystem), buildlog.SystemPrefix)
			omitted := prometheus.NewCounter(prometheus.CounterOpts{Name: "omitted"})
			lc := buildlog.NewCap(sys, tt.max, omitted)
			capped := map[string]io.Writer{
				buildlog.StreamStdout: lc.Wrap(c.Writer(buildlog.StreamStdout)),
				buildlog.StreamStderr: lc.Wrap(c.Writer(buildlog.StreamStderr)),
			}
			for i, step := range tt.steps {
				if i > 0 {
					// The builder's own lines go straight in, between steps.
					fmt.Fprintf(c.Writer(buildlog.StreamSystem), "$ step\n")
				}
				for _, w := range step {
					stream := map[string]string{"o": buildlog.StreamStdout, "e": buildlog.StreamStderr}[w.stream]
					if n, err := capped[stream].Write([]byte(w.text)); err != nil || n != len(w.text) {
						t.Fatalf("write %q: %d, %v", w.text, n, err)
					}
				}
				if err := lc.EndStep(); err != nil {
					t.Fatal(err)
				}
			}
			chunks, _ := endAndRead(t, c, pub, js, subj, 10*time.Second)
			if got := buildlogtest.Sequence(t, chunks); !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("log:\n%q\nwant:\n%q", got, tt.want)
			}
			var m dto.Metric
			if err := omitted.Write(&m); err != nil {
				t.Fatal(err)
			}
			if got := m.GetCounter().GetValue(); got != float64(tt.omitted) {
				t.Errorf("omitted bytes counted: %v, want %d", got, tt.omitted)
			}
		})
	}
}

type write struct{ stream, text string }
