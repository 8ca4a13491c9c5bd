package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// Machine describes where the figures were measured: CPU model, cores,
// memory, kernel and Go version.
func Machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := "unknown memory"
	if st, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(st), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB memory", float64(kb)/(1<<20))
		}
	}
	kernel := "unknown kernel"
	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil {
		kernel = "Linux " + utsString(u.Release[:])
	}
	return fmt.Sprintf("%s, %d cores, %s, %s, %s %s/%s", cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func utsString(cs []int8) string {
	var b strings.Builder
	for _, c := range cs {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}
