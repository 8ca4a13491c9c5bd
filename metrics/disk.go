package metrics

import (
	"slices"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	diskFreeDesc = prometheus.NewDesc("ejecta_disk_free_bytes",
		"Bytes an unprivileged writer can still use on the file system of a directory the component writes (a builder's work dir, an uploader's staging dir).", []string{"dir"}, nil)
	diskSizeDesc = prometheus.NewDesc("ejecta_disk_size_bytes",
		"Size of the file system of a directory the component writes.", []string{"dir"}, nil)
)

// Disk is a prometheus.Collector reading, at every scrape, the free space
// and size of the file systems holding its directories: a builder whose
// work dir fills stops taking jobs, and an alert should say so first.
type Disk struct{ dirs []string }

// NewDisk returns a collector of dirs' file systems.
func NewDisk(dirs ...string) *Disk {
	dirs = slices.Clone(dirs)
	slices.Sort(dirs)
	return &Disk{dirs: slices.Compact(dirs)} // a series once per directory
}

// Describe implements prometheus.Collector.
func (d *Disk) Describe(ch chan<- *prometheus.Desc) {
	ch <- diskFreeDesc
	ch <- diskSizeDesc
}

// Collect implements prometheus.Collector. A directory that cannot be
// measured (not made yet, unmounted) has no series: an alert on absence
// catches that.
func (d *Disk) Collect(ch chan<- prometheus.Metric) {
	for _, dir := range d.dirs {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(diskFreeDesc, prometheus.GaugeValue, float64(st.Bavail*uint64(st.Bsize)), dir)
		ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(st.Blocks*uint64(st.Bsize)), dir)
	}
}
