package uploader

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	promserve "github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
)

// TestMetrics scrapes an uploader's /metrics while one build is still
// logging and two finished logs are stored: the stored counts and bytes
// match what was published, and the sweep reports the build in flight as
// the backlog.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	reg := promserve.NewRegistry()
	cfg := fastConfig("m")
	cfg.SweepInterval = 100 * time.Millisecond
	cfg.Metrics = reg
	srv := httptest.NewServer(promserve.Handler(reg))
	defer srv.Close()

	// A build still running: chunks, no end marker, no request.
	running := []byte("   Compiling itoa v1.0.1\n")
	e.publishChunks(buildKey("met", "itoa"), 1, chunks(running, 10))
	e.run(cfg, e.st)

	var total int
	for i, size := range []int{3000, 200_000} {
		data := randomBytes(size, byte(i))
		cs := chunks(data, buildlog.MaxChunkBytes)
		e.publishLog(buildKey("met", crateName(i)), 1, cs, endFor(data, len(cs)))
		total += size
	}
	var fams metricstest.Families
	eventually(t, 20*time.Second, "two logs stored and a sweep since", func() bool {
		fams = metricstest.Scrape(t, srv.URL)
		stored, _ := fams.Value("ejecta_uploader_logs_stored_total")
		logs, _ := fams.Value("ejecta_uploader_backlog_logs")
		return stored == 2 && logs == 1
	})
	for _, c := range []struct {
		name string
		want float64
	}{
		{"ejecta_uploader_logs_stored_total", 2},
		{"ejecta_uploader_bytes_stored_total", float64(total)},
		{"ejecta_uploader_upload_duration_seconds", 2}, // samples
		{"ejecta_uploader_upload_failures_total", 0},
		{"ejecta_uploader_uploads_in_flight", 0},
		{"ejecta_uploader_backlog_logs", 1},
		{"ejecta_uploader_backlog_requests", 0},
	} {
		if got := fams.Must(t, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if b := fams.Must(t, "ejecta_uploader_backlog_log_bytes"); b < float64(len(running)) {
		t.Errorf("backlog log bytes = %v, want at least the running build's %d", b, len(running))
	}
}
