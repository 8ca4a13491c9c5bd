package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Log formats (--log-format). auto is what a person at a terminal wants to
// read and what a log collector wants to parse: console on a terminal,
// JSON otherwise (a pipe, a file, journald, a container runtime).
const (
	logAuto    = "auto"
	logJSON    = "json"
	logConsole = "console"
)

// newLogger writes component's log lines to w at level in format; terminal
// says whether w is a terminal, for format auto.
func newLogger(w io.Writer, terminal bool, level, format, component string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), badInput(fmt.Errorf("--log-level %q: want debug, info, warn or error", level))
	}
	switch format {
	case logAuto:
		if terminal {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	case logJSON:
	case logConsole:
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !terminal}
	default:
		return zerolog.Nop(), badInput(fmt.Errorf("--log-format %q: want auto, console or json", format))
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("component", component).Logger(), nil
}

// stderrIsTerminal reports whether this process's standard error is a terminal.
func stderrIsTerminal() bool {
	fd := os.Stderr.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}
