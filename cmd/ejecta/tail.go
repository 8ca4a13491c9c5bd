package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// logFlags are what `tail` and `logs` share.
type logFlags struct {
	toolchain string
	attempt   int
	color     string
	raw       bool
	storeURL  string
	follow    bool
	lines     int           // --tail: the last lines only; 0 for all
	since     time.Duration // --since: what was written this long ago or since; 0 for all
	stamps    bool          // --timestamps
}

func (f *logFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.toolchain, "toolchain", "", "the toolchain whose build to read (needed when the crate ran with both and none is running)")
	fs.IntVar(&f.attempt, "attempt", 0, "the attempt to read (default: the latest)")
	fs.StringVar(&f.color, "color", "auto", "ANSI colours: auto (only to a terminal), always or never")
	fs.BoolVar(&f.raw, "raw", false, "write the log's bytes unchanged, terminal controls included (default: only text and, with colours, SGR colour sequences)")
	readerStoreFlag(fs, &f.storeURL)
	fs.BoolVarP(&f.follow, "follow", "f", false, "keep printing new bytes until the build ends (without CRATE: until interrupted)")
	fs.IntVar(&f.lines, "tail", 0, "print only the last N lines of what is there, then (with --follow) what comes; 0 for all")
	fs.DurationVar(&f.since, "since", 0, "print only what was written in the last D (e.g. 10m), by the time each line was written, live or stored (a log stored without its times is printed whole if it spans the cut); 0 for all")
	fs.BoolVar(&f.stamps, "timestamps", false, "begin each line with the time it was written (UTC, milliseconds), live or stored; blank where a log was stored without its times")
}

// validate checks the flags' values and names the bad one.
func (f *logFlags) validate() error {
	if f.color != "auto" && f.color != "always" && f.color != "never" {
		return badInput(fmt.Errorf("--color %q: want auto, always or never", f.color))
	}
	if f.raw && f.color != "auto" {
		return badInput(fmt.Errorf("--raw writes every byte as it is, colours included: drop --color %s", f.color))
	}
	if f.attempt < 0 {
		return badInput(fmt.Errorf("--attempt %d: want 1 or more (0: the latest)", f.attempt))
	}
	if f.lines < 0 {
		return badInput(fmt.Errorf("--tail %d: want 0 (all) or more", f.lines))
	}
	if f.stamps && f.lines > 0 {
		return badInput(errors.New("--timestamps and --tail: use one of them"))
	}
	if f.since < 0 {
		return badInput(fmt.Errorf("--since %s: want 0 (all) or more", f.since))
	}
	if f.toolchain != "" {
		if err := streams.ValidateToolchain(f.toolchain); err != nil {
			return badInput(fmt.Errorf("--toolchain: %w", err))
		}
	}
	return nil
}

// presenter returns what log bytes pass through on their way to out: a
// build's output is the crate's own, and may hold controls that retitle the
// window, write the clipboard, or make the terminal type into the shell's
// input. Only text and, when colours are kept, SGR colour sequences reach
// out, unless --raw. Colours are kept when out is a terminal (--color auto).
func (f *logFlags) presenter(out io.Writer) func(io.Writer) io.Writer {
	if f.raw {
		return func(w io.Writer) io.Writer { return w }
	}
	colours := f.color == "always"
	if f.color == "auto" {
		file, ok := out.(*os.File)
		if ok {
			fi, err := file.Stat()
			colours = err == nil && fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return func(w io.Writer) io.Writer { return logtail.Sanitize(w, colours) }
}

// printable is s without terminal controls: build names and end statuses
// come from the logs stream, as the log bytes do.
func printable(s string) string {
	var b strings.Builder
	logtail.Sanitize(&b, false).Write([]byte(s))
	return b.String()
}

// parseCrateArg reads CRATE[@VERSION].
func parseCrateArg(s string) (crate, version string, err error) {
	crate, version, _ = strings.Cut(s, "@")
	if err := streams.ValidateCrateName(crate); err != nil {
		return "", "", badInput(fmt.Errorf("CRATE: %w", err))
	}
	if version != "" || strings.HasSuffix(s, "@") {
		if err := streams.ValidateVersion(version); err != nil {
			return "", "", badInput(fmt.Errorf("CRATE@VERSION: %w", err))
		}
	}
	return crate, version, nil
}

// expCrateArgs accepts EXP and, when crateOptional or not, CRATE[@VERSION].
func expCrateArgs(command string, crateOptional bool) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		lo, want := 2, "EXP CRATE[@VERSION]"
		if crateOptional {
			lo, want = 1, "EXP [CRATE[@VERSION]]"
		}
		if len(args) < lo || len(args) > 2 {
			return badInput(fmt.Errorf("%s: want %s, have %d arguments", command, want, len(args)))
		}
		if err := streams.ValidateExperimentName(args[0]); err != nil {
			return badInput(fmt.Errorf("EXP: %w", err))
		}
		if len(args) == 2 {
			_, _, err := parseCrateArg(args[1])
			return err
		}
		return nil
	}
}

func newTailCmd(g *globals) *cobra.Command {
	var f logFlags
	cmd := &cobra.Command{
		Use:   "tail EXP [CRATE[@VERSION]]",
		Short: "Print a build's log from its first byte; with -f follow it live",
		Long: `Print a build's log from its first byte; with --follow keep printing new
bytes live until the build ends.

A running build's log is read from the logs stream; a finished one from the
store, so the same command works during and after a build. Without CRATE,
print the logs of every build of the experiment in flight, each line
prefixed with its build.

Colours are kept when the output is a terminal and stripped otherwise
(--color always keeps them, e.g. for 'less -R'). Every other terminal
control in the log (window titles, clipboard writes, cursor movement,
queries the terminal answers on its input) is removed; --raw writes the
log's bytes unchanged.

--tail N prints only the last N lines of each log (of what is there when it
starts), --since D only what was written in the last D; both then follow
with --follow.`,
		Example: `  ejecta tail demo cfg-if -f
  ejecta tail demo itoa@1.0.1 --toolchain nightly --attempt 2
  ejecta tail demo --tail 20 -f
  ejecta tail demo --since 5m`,
		Args:              expCrateArgs("tail", true),
		ValidArgsFunction: completeExperimentCrate(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			if len(args) == 1 {
				if f.toolchain != "" || f.attempt != 0 {
					return badInput(errors.New("--toolchain and --attempt need a CRATE"))
				}
				if f.stamps {
					return badInput(errors.New("--timestamps needs a CRATE"))
				}
				return tailExperiment(cmd, g, args[0], &f, cmd.OutOrStdout(), f.presenter(cmd.OutOrStdout()))
			}
			return printLog(cmd, g, &f, args)
		},
	}
	f.register(cmd)
	return cmd
}

func newLogsCmd(g *globals) *cobra.Command {
	var f logFlags
	cmd := &cobra.Command{
		Use:   "logs EXP CRATE[@VERSION]",
		Short: "Print a build's log: the stored log, or what a running build has written so far",
		Example: `  ejecta logs demo cfg-if --toolchain stable
  ejecta logs demo itoa@1.0.1 --toolchain nightly --attempt 1 > itoa.log
  ejecta logs demo cfg-if -f`,
		Args:              expCrateArgs("logs", false),
		ValidArgsFunction: completeExperimentCrate(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			return printLog(cmd, g, &f, args)
		},
	}
	f.register(cmd)
	return cmd
}

// printLog resolves EXP CRATE[@VERSION] to one attempt and copies its log.
func printLog(cmd *cobra.Command, g *globals, f *logFlags, args []string) error {
	ctx := cmd.Context()
	crate, version, err := parseCrateArg(args[1])
	if err != nil {
		return err
	}
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return err
	}
	defer done()
	st, err := openStore(ctx, readerStore(ctx, js, f.storeURL))
	if err != nil {
		return err
	}
	atts, err := logtail.Attempts(ctx, js, args[0])
	if err != nil {
		return err
	}
	k, attempt, err := logtail.Resolve(args[0], atts, logtail.Query{Crate: crate, Version: version, Toolchain: f.toolchain, Attempt: f.attempt})
	if err != nil {
		return badInput(err)
	}
	out := cmd.OutOrStdout()
	w := f.presenter(out)(out)
	r := logtail.New(js, st)
	// sink is what the log passes through on its way to w: --since drops
	// what is older, --tail keeps the last lines of what is there now.
	sink := w
	if f.stamps {
		sink = &stamper{next: w}
	}
	var last *lastLines
	if f.lines > 0 {
		last = newLastLines(f.lines)
		sink = last
	}
	if f.since > 0 {
		sink = &sinceFilter{next: sink, cutoff: time.Now().Add(-f.since), stored: func() bool {
			return storedSince(ctx, st, k, attempt, time.Now().Add(-f.since), cmd.ErrOrStderr())
		}}
	}
	var res logtail.Result
	if last != nil {
		res, err = r.Copy(ctx, k, attempt, sink, logtail.Options{})
		if errors.Is(err, logtail.ErrNoLog) && f.follow {
			err = nil // not started: all of it is to come
		}
		if err == nil {
			err = last.flushTo(w)
		}
		if err == nil && f.follow && !res.Complete {
			res, err = r.Copy(ctx, k, attempt, w, logtail.Options{Follow: true, From: res.Offset})
		}
	} else {
		res, err = r.Copy(ctx, k, attempt, sink, logtail.Options{Follow: f.follow})
	}
	if errors.Is(err, logtail.ErrNoLog) {
		return badInput(fmt.Errorf("%w (the build has not started; --follow waits for it)", err))
	}
	if err != nil {
		if f.follow && ctx.Err() != nil {
			return nil // interrupted
		}
		return err
	}
	if res.End != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), printable(fmt.Sprintf("-- %s attempt %d ended: %s, %d bytes", k, attempt, res.End.Status, res.End.Bytes)))
	}
	return nil
}

// storedSince says whether a stored log, which keeps no time per line,
// passes --since's cutoff: whole when it spans it (and says so on
// stderr), not at all when it ended before.
func storedSince(ctx context.Context, st store.Store, k streams.BuildKey, attempt int, cutoff time.Time, stderr io.Writer) bool {
	rc, err := st.Get(ctx, streams.ExperimentPrefix(k.Experiment)+streams.LogMetaKey(k, attempt))
	if err != nil {
		return true // no metadata to tell by: print it
	}
	defer rc.Close()
	var meta streams.LogMeta
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&meta); err != nil || meta.LastAt.IsZero() {
		return true
	}
	switch {
	case meta.LastAt.Before(cutoff):
		return false
	case meta.FirstAt.Before(cutoff):
		fmt.Fprintf(stderr, "-- the stored log keeps no time per line: all of it, written from %s to %s\n",
			meta.FirstAt.Local().Format(time.DateTime), meta.LastAt.Local().Format(time.DateTime))
	}
	return true
}

// tailExperiment prints every live log of exp, a prefix on each line. Each
// build's bytes pass through a presenter of their own before they are cut
// into lines, so that a sequence one build leaves open cannot swallow the
// lines of another. With --tail, each build's last lines are kept until the
// reader has caught up with the stream, then printed; with --since, chunks
// written before the cut are left out.
func tailExperiment(cmd *cobra.Command, g *globals, exp string, f *logFlags, out io.Writer, present func(io.Writer) io.Writer) error {
	ctx := cmd.Context()
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return err
	}
	defer done()
	if err := checkKnown(ctx, js, exp); err != nil {
		return err
	}
	type build struct {
		lines *logtail.Prefixer
		w     io.Writer  // present(lines)
		last  *lastLines // --tail, until caught up
	}
	builds := map[string]*build{}
	var order []string // of builds with lines kept
	caughtUp := f.lines == 0
	cutoff := time.Now().Add(-f.since)
	show := func(p buildlog.Piece) error {
		key := fmt.Sprintf("%s@%s/%s#%d", p.Build.Crate, p.Build.Version, p.Build.Toolchain, p.Attempt)
		name := printable(key)
		b, ok := builds[key]
		if p.Chunk != nil && f.since > 0 && !p.Chunk.Time.IsZero() && p.Chunk.Time.Before(cutoff) {
			return nil
		}
		if !ok && p.End != nil && (f.since > 0 || f.lines > 0) {
			return nil // nothing of it shown
		}
		if !ok {
			b = &build{lines: logtail.NewPrefixer(out, name+" | ")}
			b.w = present(b.lines)
			if !caughtUp {
				b.last = newLastLines(f.lines)
				order = append(order, key)
			}
			builds[key] = b
		}
		if p.Chunk != nil {
			if b.last != nil {
				b.last.Write(p.Chunk.Data)
			} else if _, err := b.w.Write(p.Chunk.Data); err != nil {
				return err
			}
		} else {
			delete(builds, key)
			if b.last != nil {
				if err := b.last.flushTo(b.w); err != nil {
					return err
				}
				b.last = nil
			}
			if err := b.lines.Flush(); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(out, "%s | -- ended: %s, %d bytes\n", name, printable(string(p.End.Status)), p.End.Bytes); err != nil {
				return err
			}
		}
		return nil
	}
	err = buildlog.FollowExperiment(ctx, js, exp, f.follow, func(p buildlog.Piece) error {
		if err := show(p); err != nil {
			return err
		}
		if !caughtUp && p.Pending == 0 {
			caughtUp = true
			for _, key := range order {
				if b := builds[key]; b != nil && b.last != nil {
					if err := b.last.flushTo(b.w); err != nil {
						return err
					}
					b.last = nil
				}
			}
			order = nil
		}
		return nil
	})
	for _, b := range builds {
		if b.last != nil {
			b.last.flushTo(b.w)
		}
		b.lines.Flush()
	}
	return err
}

// checkKnown refuses, as bad input, an experiment with neither a record nor
// a log on the stream: a mistyped name would otherwise print nothing, or
// wait forever with --follow.
func checkKnown(ctx context.Context, js jetstream.JetStream, exp string) error {
	_, err := status.Record(ctx, js, exp)
	if !errors.Is(err, status.ErrUnknownExperiment) {
		return err
	}
	s, serr := js.Stream(ctx, streams.LogsStream)
	if serr != nil {
		return fmt.Errorf("open %s: %w", streams.LogsStream, serr)
	}
	n, serr := streams.CountMessages(ctx, s, streams.ExperimentLogsFilter(exp))
	if serr != nil {
		return serr
	}
	if n == 0 {
		return badInput(err)
	}
	return nil
}
