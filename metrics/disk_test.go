package metrics_test

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
)

// The disk collector reports each directory's file system; a directory
// that does not exist has no series rather than a false zero.
func TestDiskCollector(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewDisk(dir, missing))
	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()
	fams := metricstest.Scrape(t, srv.URL)
	free, size := fams.Must(t, "ejecta_disk_free_bytes", "dir", dir), fams.Must(t, "ejecta_disk_size_bytes", "dir", dir)
	if free <= 0 || size < free {
		t.Errorf("free %v, size %v: want 0 < free <= size", free, size)
	}
	if _, ok := fams.Value("ejecta_disk_free_bytes", "dir", missing); ok {
		t.Error("a series for a directory that does not exist")
	}
}
