package sandbox

import (
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
