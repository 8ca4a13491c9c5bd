package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ejecta-build/ejecta/internal/testenv"
)

// TestNewLogger checks each format and level: what a line looks like, and
// whether it is written at all.
func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name, level, format string
		terminal            bool
		wantJSON            bool
		wantLine            bool
		wantErr             string
	}{
		{name: "auto to a pipe is JSON", level: "info", format: "auto", wantJSON: true, wantLine: true},
		{name: "auto to a terminal is console", level: "info", format: "auto", terminal: true, wantLine: true},
		{name: "json to a terminal is JSON", level: "info", format: "json", terminal: true, wantJSON: true, wantLine: true},
		{name: "console to a pipe is console", level: "info", format: "console", wantLine: true},
		{name: "warn hides info", level: "warn", format: "json", wantJSON: true},
		{name: "debug shows info", level: "debug", format: "json", wantJSON: true, wantLine: true},
		{name: "unknown format", level: "info", format: "yaml", wantErr: `--log-format "yaml": want auto, console or json`},
		{name: "unknown level", level: "loud", format: "json", wantErr: `--log-level "loud": want debug, info, warn or error`},
		{name: "empty level", level: "", format: "json", wantErr: `--log-level ""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := newLogger(&buf, tc.terminal, tc.level, tc.format, "builder")
			if tc.wantErr != "" {
				var ue usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Info().Str("slot", "3").Msg("build started")
			line := buf.String()
			if !tc.wantLine {
				if line != "" {
					t.Fatalf("at level %s an info line was written: %q", tc.level, line)
				}
				return
			}
			checkLogLine(t, line, tc.wantJSON)
		})
	}
}

// checkLogLine checks one "build started" line of component builder in
// JSON (every field parsed) or console form (readable, no JSON).
func checkLogLine(t *testing.T, line string, wantJSON bool) {
	t.Helper()
	var fields map[string]any
	isJSON := json.Unmarshal([]byte(line), &fields) == nil
	switch {
	case wantJSON && !isJSON:
		t.Fatalf("want a JSON line, have %q", line)
	case wantJSON:
		if fields["level"] != "info" || fields["component"] != "builder" || fields["message"] != "build started" || fields["time"] == nil {
			t.Fatalf("JSON line lacks level, component, message or time: %q", line)
		}
	case isJSON || strings.HasPrefix(strings.TrimSpace(line), "{"):
		t.Fatalf("want a console line, have JSON %q", line)
	case !strings.Contains(line, "INF") || !strings.Contains(line, "build started") || !strings.Contains(line, "component=") || !strings.Contains(line, "builder"):
		t.Fatalf("console line lacks level, message or component: %q", line)
	}
}

// TestLogFormatAutoFollowsStderr runs `ejecta web` with its standard error
// on a pipe, then on a pseudo-terminal, and reads the line it logs when
// listening: JSON for the pipe, the console format for the terminal.
func TestLogFormatAutoFollowsStderr(t *testing.T) {
	srv := testenv.StartNATS(t)
	for _, terminal := range []bool{false, true} {
		t.Run(fmt.Sprintf("terminal=%v", terminal), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "--nats", srv.URL, "web", "--http", "127.0.0.1:0",
				"--store", "file://"+t.TempDir())
			cmd.Env = append(os.Environ(), "EJECTA_TEST_RUN_MAIN=1", "EJECTA_LOG_FORMAT=", "EJECTA_LOG_LEVEL=")
			var stderr io.Reader
			if terminal {
				master, slave := openPTY(t)
				cmd.Stderr, stderr = slave, master
			} else {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				cmd.Stderr, stderr = w, r
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmd.Stderr.(*os.File).Close() // the child has its copy
			t.Cleanup(func() {
				cmd.Process.Signal(syscall.SIGINT)
				cmd.Wait()
			})
			line := waitLine(t, stderr, "web ui listening", 30*time.Second)
			var fields map[string]any
			isJSON := json.Unmarshal([]byte(line), &fields) == nil
			if isJSON != !terminal {
				t.Fatalf("stderr a terminal: %v; line is JSON: %v; want JSON exactly when not a terminal: %q", terminal, isJSON, line)
			}
			if isJSON && (fields["component"] != "web" || fields["level"] != "info") {
				t.Fatalf("JSON line lacks component or level: %q", line)
			}
			if !isJSON && !strings.Contains(line, "INF") {
				t.Fatalf("console line lacks its level: %q", line)
			}
		})
	}
}

// waitLine reads r until a line contains want and returns it.
func waitLine(t *testing.T, r io.Reader, want string, timeout time.Duration) string {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended without %q:\n%s", want, strings.Join(seen, "\n"))
			}
			if strings.Contains(l, want) {
				go func() {
					for range lines { // let the child write on
					}
				}()
				return strings.TrimRight(l, "\r")
			}
			seen = append(seen, l)
		case <-deadline:
			t.Fatalf("no line with %q within %s:\n%s", want, timeout, strings.Join(seen, "\n"))
		}
	}
}

// openPTY opens a pseudo-terminal pair; both ends are closed when t ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		testenv.Unavailable(t, "pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// A command a person runs logs to standard error in console form, even
// when that is not a terminal (--log-format auto); components keep JSON
// there. JSON goes out only when asked for.
func TestCLILogLinesAreConsole(t *testing.T) {
	ns := testenv.StartNATS(t)
	reg := testenv.CrateRegistry(t)
	create := func(name string, extra ...string) string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = w
		out, err := run(t, append([]string{"--nats", ns.URL, "experiment", "create", name, "--toolchains", "stable,nightly",
			"--mode", "check-only", "--crates", "cfg-if", "--crate-source", reg, "--no-toolchain-check"}, extra...)...)
		os.Stderr = stderr
		w.Close()
		logged, _ := io.ReadAll(r)
		if err != nil || !strings.Contains(out, "experiment "+name+" created") || strings.Contains(out, "published") {
			t.Fatalf("create: %q, %v; want the outcome alone on standard output", out, err)
		}
		return string(logged)
	}
	logged := create("console")
	if !strings.Contains(logged, "experiment published") || strings.Contains(logged, "{") {
		t.Errorf("standard error %q: want console lines, no JSON", logged)
	}
	logged = create("json", "--log-format", "json")
	if !strings.HasPrefix(logged, "{") || !strings.Contains(logged, `"message":"experiment published"`) {
		t.Errorf("standard error with --log-format json %q: want JSON lines", logged)
	}
}
