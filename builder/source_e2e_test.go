package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// A directory crate source builds wherever it is on the host, under /tmp
// too (builds have a /tmp of their own: the source is bound into it); one
// builds cannot read is the builder's error, never the crate's verdict.
func TestCrateSourceWherever(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	copyCrate := func(dir string, mode os.FileMode) string {
		if err := os.CopyFS(filepath.Join(dir, "ejecta-testfail-0.1.0"), os.DirFS(filepath.Join(testdataRegistry(t), "ejecta-testfail-0.1.0"))); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	inTmp := copyCrate(t.TempDir(), 0o755)
	closed := copyCrate(testenv.DurableTempDir(t), 0o700)
	// Under /home, which the sandbox hides: binding it would show it.
	os.MkdirAll("/home", 0o755)
	home, err := os.MkdirTemp("/home", "ejecta-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	hidden := copyCrate(home, 0o755)

	nc, js := startJetStream(t, streams.DefaultConfig())
	startBuilder(t, nc, Config{ID: "src", Slots: 1})
	results, err := js.OrderedConsumer(t.Context(), streams.ResultsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		exp, source string
		status      streams.Status
		reason      streams.Reason
		logContent  string
	}{
		{"tmp", inTmp, streams.StatusTestPass, "", "Checking ejecta-testfail v0.1.0"},
		{"closed", closed, streams.StatusError, streams.ReasonCrateSourceUnreadable, "builds cannot read the crate source " + closed},
		{"hidden", hidden, streams.StatusError, streams.ReasonCrateSourceUnreadable, hidden + " would show builds /home, which is hidden from them"},
	} {
		job := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: tt.exp, Crate: "ejecta-testfail", Version: "0.1.0", Toolchain: "stable"},
			Mode: streams.ModeCheckOnly, CrateSource: tt.source}
		publishJob(t, js, job)
		var r streams.Result
		nextJSON(t, results, 3*time.Minute, &r)
		if r.Status != tt.status || r.Reason != tt.reason {
			t.Errorf("crate source %s: %s %q, want %s %q", tt.source, r.Status, r.Reason, tt.status, tt.reason)
		}
		if text := logText(t, js, job.BuildKey, 1, tt.status); !strings.Contains(text, tt.logContent) {
			t.Errorf("crate source %s: log lacks %q:\n%s", tt.source, tt.logContent, text)
		}
	}
}
