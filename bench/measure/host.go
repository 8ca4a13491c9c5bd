package measure

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CgroupCPU is the CPU time used so far by every process that ran in the
// cgroup at path, relative to the hierarchy's root (containerd puts a
// namespace's containers below /NAMESPACE), those of its removed children
// included: cgroup v2's cpu.stat usage_usec, or v1's cpuacct.usage.
func CgroupCPU(path string) (time.Duration, error) {
	if data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cpu.stat")); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return 0, fmt.Errorf("cgroup %s: usage_usec %q", path, v)
				}
				return time.Duration(us) * time.Microsecond, nil
			}
		}
	}
	for _, dir := range []string{"cpuacct", "cpu,cpuacct"} {
		data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", dir, path, "cpuacct.usage"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgroup %s: cpuacct.usage %q", path, data)
		}
		return time.Duration(ns), nil
	}
	return 0, fmt.Errorf("cgroup %s: no CPU accounting found", path)
}

// Load samples the host's one-minute load average while a benchmark
// runs: on a shared machine it says how busy the rest of it was.
type Load struct {
	mu      sync.Mutex
	samples []float64
	stop    context.CancelFunc
	done    chan struct{}
}

// WatchLoad samples /proc/loadavg every interval until Stop.
func WatchLoad(interval time.Duration) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v, err := loadavg(); err == nil {
				l.mu.Lock()
				l.samples = append(l.samples, v)
				l.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return l
}

// Stop ends the sampling and returns the mean of the samples (0 without
// any).
func (l *Load) Stop() float64 {
	l.stop()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return 0
	}
	var sum float64
	for _, v := range l.samples {
		sum += v
	}
	return sum / float64(len(l.samples))
}

func loadavg() (float64, error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/loadavg: %q", data)
	}
	return strconv.ParseFloat(f[0], 64)
}
