package measure

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPU is the CPU time process pid has used so far, to the nanosecond: the
// sum over its threads of /proc/PID/task/TID/schedstat. Rusage would only
// count threads that have ended, and only once the process has.
func CPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("read the schedstat of process %d: no threads (%v)", pid, err)
	}
	var total time.Duration
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read %s: %q is not a number of nanoseconds", p, f[0])
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// Status reads the kB fields of /proc/PID/status (VmHWM, RssAnon, ...), in
// bytes.
func Status(pid int) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read the memory use of process %d: %w", pid, err)
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		v, isKB := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok || !isKB {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n << 10
		}
	}
	return out, nil
}

// Memory samples a process's anonymous resident memory (heap and stacks:
// what grows with the work) every few milliseconds until Peak.
type Memory struct {
	pid  int
	mu   sync.Mutex
	anon int64 // peak RssAnon seen
	stop chan struct{}
	done chan struct{}
}

// WatchMemory starts sampling process pid.
func WatchMemory(pid int) *Memory {
	m := &Memory{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := Status(m.pid); err == nil {
				m.mu.Lock()
				m.anon = max(m.anon, st["RssAnon"])
				m.mu.Unlock()
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// Peak stops sampling and returns the peak of the process's anonymous
// memory and its VmHWM, the kernel's peak RSS, which also counts the
// executable's file-backed pages (shared and reclaimable, so not what a
// memory bound is about). The anonymous peak is the larger of the sampled
// one and VmHWM minus the file-backed pages now, so that a spike between
// two samples is not missed. The process must still be running.
func (m *Memory) Peak() (anon, hwm int64, err error) {
	close(m.stop)
	<-m.done
	st, err := Status(m.pid)
	if err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.anon, st["VmHWM"]-st["RssFile"]-st["RssShmem"]), st["VmHWM"], nil
}
