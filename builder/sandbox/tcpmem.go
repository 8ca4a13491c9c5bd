package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The TCP buffers of a task's sockets are memory it holds as surely as its
// heap, and the pool they come from (net.ipv4.tcp_mem) is the host's, in
// every network namespace: at its limit every TCP connection on the host,
// the builder's own included, starves.
//
// On cgroup v2 the kernel charges socket buffers to the task's memory
// cgroup, so its memory limit bounds them with the rest. On cgroup v1 it
// charges them to nothing unless the cgroup's memory.kmem.tcp.limit_in_bytes
// is set: without it a task limited to 64 MiB pinned over 300 MiB of the
// host's TCP memory with loopback connections of its own namespace. runc
// ignores the spec's KernelTCP (since 1.1, with a warning), so Run sets
// the limit itself, once runc has made the cgroup and before the task's
// first process starts: the kernel ties a socket to a memory cgroup when
// the socket is made, and only if the cgroup's TCP accounting is on by
// then.
//
// The v1 limit is an allowance of its own, next to memory.limit_in_bytes:
// a task may hold its memory limit in memory and as much again in TCP
// buffers, on loopback or (with Task.Network) the host's network. Past it
// the task's sockets are under memory pressure, as all are at the host's
// tcp_mem limit: writes wait. It bounds TCP's buffers, not those of unix
// sockets, which the kernel keeps no such account of.
//
// The per-namespace sysctls net.ipv4.tcp_rmem and tcp_wmem would not do
// instead (tried: set in the spec, they changed nothing here): they bound
// the buffers the kernel sizes itself, not those a program asks for with
// SO_SNDBUF and SO_RCVBUF (up to the host's net.core.wmem_max and
// rmem_max, which a network namespace cannot lower), and neither bounds
// how many sockets a task opens.

// memoryV1 is where the cgroup v1 memory hierarchy is mounted.
const memoryV1 = "/sys/fs/cgroup/memory"

// tcpMemory is how the host bounds a task's TCP buffers.
type tcpMemory int

const (
	tcpUnbounded    tcpMemory = iota // cgroup v1 without kmem.tcp: nothing bounds them
	tcpInMemory                      // cgroup v2: charged to the memory limit
	tcpLimitWritten                  // cgroup v1: Run writes memory.kmem.tcp.limit_in_bytes
)

// probeTCPMemory says how tasks' TCP buffers can be bounded here.
func probeTCPMemory() tcpMemory {
	if cgroupV2() {
		return tcpInMemory
	}
	if _, err := os.Stat(filepath.Join(memoryV1, "memory.kmem.tcp.limit_in_bytes")); err == nil {
		return tcpLimitWritten
	}
	return tcpUnbounded
}

// limitTCP limits the TCP buffers of the v1 memory cgroup pid is in to
// limit bytes.
func limitTCP(pid uint32, limit int64) error {
	cg, err := memoryCgroup(pid)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(memoryV1, cg, "memory.kmem.tcp.limit_in_bytes"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.FormatInt(limit, 10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// memoryCgroup is the path of pid's cgroup in the v1 memory hierarchy,
// from /proc/PID/cgroup: whatever driver named it, this is where runc put
// the task.
func memoryCgroup(pid uint32) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
			if !strings.HasPrefix(f[2], "/") || slices.Contains(strings.Split(f[2], "/"), "..") {
				return "", fmt.Errorf("process %d: memory cgroup %q", pid, f[2])
			}
			return f[2], nil
		}
	}
	return "", fmt.Errorf("process %d is in no v1 memory cgroup", pid)
}
