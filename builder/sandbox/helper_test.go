package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The test binary doubles as a helper program run inside the sandbox, for
// what a shell cannot do portably: allocate memory, open a TCP connection.
// helperEnv selects the mode; the host's root is mounted read-only in the
// sandbox, so the binary (copied out of /tmp, which the sandbox hides) runs
// there as it is.
const helperEnv = "EJECTA_SANDBOX_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "alloc":
		os.Exit(helperAlloc(os.Args[1]))
	case "dial":
		os.Exit(helperDial(os.Args[1]))
	case "euid":
		fmt.Printf("euid %d\n", os.Geteuid())
		os.Exit(0)
	case "io_uring":
		fmt.Println(ioUringSetup())
		os.Exit(0)
	case "sockets":
		os.Exit(helperSockets(os.Args[1], os.Args[2]))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

// helperAlloc allocates and touches the given number of MiB.
func helperAlloc(mib string) int {
	n, err := strconv.Atoi(mib)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var keep [][]byte
	for range n {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	fmt.Printf("allocated %d MiB\n", len(keep))
	return 0
}

// helperDial connects to addr and exits 0 if that worked.
func helperDial(addr string) int {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	conn.Close()
	fmt.Println("connected")
	return 0
}

// ioUringSetup asks for an io_uring of 8 entries and says how that went:
// "fd N" or the error.
func ioUringSetup() string {
	const sysIOUringSetup = 425 // the same on every architecture
	var params [120]byte        // struct io_uring_params, zeroed
	fd, _, errno := syscall.Syscall(sysIOUringSetup, 8, uintptr(unsafe.Pointer(&params)), 0)
	if errno != 0 {
		return errno.Error()
	}
	syscall.Close(int(fd))
	return fmt.Sprintf("fd %d", fd)
}

// helperSockets fills the buffers of n loopback TCP connections, each
// asked for 4 MiB on both sides, as a hostile build would to pin memory
// outside its cgroup's limit. It then creates dir/filled, keeps the
// connections until dir/release appears (or a minute has passed), and
// prints how many bytes it queued.
func helperSockets(n, dir string) int {
	pairs, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var keep []net.Conn
	var queued int64
	buf := make([]byte, 64<<10)
	for range pairs {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		s, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		keep = append(keep, c, s)
		c.(*net.TCPConn).SetWriteBuffer(4 << 20)
		s.(*net.TCPConn).SetReadBuffer(4 << 20)
		// Nobody reads: writes stop when both buffers are full, or
		// when the kernel refuses more memory.
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			k, err := c.Write(buf)
			queued += int64(k)
			if err != nil {
				break
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "filled"), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "release")); !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	fmt.Printf("queued %d MiB in %d connections\n", queued>>20, len(keep)/2)
	return 0
}

// helperBinary copies the test binary into dir and returns its path.
func helperBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(dir, "sandbox-helper")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
