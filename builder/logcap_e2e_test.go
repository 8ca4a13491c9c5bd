package builder

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// A crate whose test prints 2 GiB (crater once stored a 1.36 GB log) gets
// a log of about the cap: the head of the output, a line saying how much
// was left out, and the output's end, where the error usually is. The
// verdict is the test's own, and the builder goes on to the next job.
func TestBuildLogCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cargo in containerd")
	}
	nc, js := startJetStream(t, streams.DefaultConfig())
	reg := testdataRegistry(t)
	spew := streams.Job{V: 1, BuildKey: streams.BuildKey{Experiment: "cap", Crate: "ejecta-spew", Version: "0.1.0", Toolchain: "stable"},
		Mode: streams.ModeBuildAndTest, CrateSource: reg}
	next := spew
	next.Crate = "ejecta-testfail"
	publishJob(t, js, spew)
	publishJob(t, js, next)
	const maxLog = 4 << 20
	startBuilder(t, nc, Config{ID: "cap", Slots: 1, MaxLogBytes: maxLog, InProgressEvery: time.Second})

	got := awaitResults(t, js, 2, 5*time.Minute)
	if r := got[spew.BuildKey]; r.Status != streams.StatusTestPass {
		t.Errorf("ejecta-spew: %s (%s), want test-pass: the cap must not change the verdict", r.Status, r.Reason)
	}
	if r := got[next.BuildKey]; r.Status != streams.StatusTestFail {
		t.Errorf("the job after it: %s (%s), want test-fail", r.Status, r.Reason)
	}

	text := logText(t, js, spew.BuildKey, 1, streams.StatusTestPass)
	// The head, the cap line and the tail, in that order.
	head := strings.Index(text, "line 000000000000: x")
	capLine := regexp.MustCompile(`\[ejecta\] log cap: (\d+) bytes of output left out here`).FindStringSubmatchIndex(text)
	last := strings.Index(text, "spew: printed 2097152 lines of 1 KiB; this is the last\n")
	if head < 0 || capLine == nil || last < 0 || !(head < capLine[0] && capLine[0] < last) {
		t.Fatalf("log lacks the head (%d), the cap line (%v) or the last line (%d), in that order; %d bytes:\n%s\n...\n%s",
			head, capLine, last, len(text), text[:min(len(text), 2000)], text[max(0, len(text)-3000):])
	}
	omitted, _ := strconv.ParseInt(text[capLine[2]:capLine[3]], 10, 64)
	if printed := int64(2<<30) + 55; omitted < printed-maxLog || omitted > printed+4<<10 {
		t.Errorf("the cap line says %d bytes left out; the test printed %d and the cap is %d", omitted, printed, maxLog)
	}
	if len(text) > maxLog+64<<10 {
		t.Errorf("log is %d bytes, want about the cap (%d)", len(text), maxLog)
	}
	// The tail is whole lines up to the last one, in order.
	tail := text[capLine[1]:last]
	tail = tail[strings.Index(tail, "\n")+1:]
	if lines := strings.Split(strings.TrimSuffix(tail, "\n"), "\n"); len(lines) < 100 || !strings.HasPrefix(lines[len(lines)-1], "line 000002097151: ") {
		t.Errorf("the tail before the last line ends with %q, want line 2097151", lines[len(lines)-1][:min(40, len(lines[len(lines)-1]))])
	}
	if !strings.Contains(text, "log capped at 4 MiB") {
		t.Errorf("the sandbox line does not state the cap:\n%s", text[:min(len(text), 2000)])
	}
}
