package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/spf13/cobra"
)

// logFlags are what `tail` and `logs` share.
type logFlags struct {
	toolchain string
	attempt   int
	color     string
	raw       bool
	storeURL  string
}

func (f *logFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.toolchain, "toolchain", "", "the toolchain whose build to read (needed when the crate ran with both and none is running)")
	fs.IntVar(&f.attempt, "attempt", 0, "the attempt to read (default: the latest)")
	fs.StringVar(&f.color, "color", "auto", "ANSI colours: auto (only to a terminal), always or never")
	fs.BoolVar(&f.raw, "raw", false, "write the log's bytes unchanged, terminal controls included (default: only text and, with colours, SGR colour sequences)")
	storeFlag(fs, &f.storeURL, "file://"+defaultUpStore())
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
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
	var follow bool
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
log's bytes unchanged.`,
		Example: `  ejecta tail demo cfg-if -f
  ejecta tail demo itoa@1.0.1 --toolchain nightly --attempt 2
  ejecta tail demo -f`,
		Args:              expCrateArgs("tail", true),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			if len(args) == 1 {
				if f.toolchain != "" || f.attempt != 0 {
					return badInput(errors.New("--toolchain and --attempt need a CRATE"))
				}
				return tailExperiment(cmd, g, args[0], follow, cmd.OutOrStdout(), f.presenter(cmd.OutOrStdout()))
			}
			return printLog(cmd, g, &f, args, follow)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new bytes until the build ends (without CRATE: until interrupted)")
	return cmd
}

func newLogsCmd(g *globals) *cobra.Command {
	var f logFlags
	cmd := &cobra.Command{
		Use:   "logs EXP CRATE[@VERSION]",
		Short: "Print a build's log: the stored log, or what a running build has written so far",
		Example: `  ejecta logs demo cfg-if --toolchain stable
  ejecta logs demo itoa@1.0.1 --toolchain nightly --attempt 1 > itoa.log`,
		Args:              expCrateArgs("logs", false),
		ValidArgsFunction: completeExperiments(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			return printLog(cmd, g, &f, args, false)
		},
	}
	f.register(cmd)
	return cmd
}

// printLog resolves EXP CRATE[@VERSION] to one attempt and copies its log.
func printLog(cmd *cobra.Command, g *globals, f *logFlags, args []string, follow bool) error {
	ctx := cmd.Context()
	crate, version, err := parseCrateArg(args[1])
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.storeURL)
	if err != nil {
		return err
	}
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return err
	}
	defer done()
	atts, err := logtail.Attempts(ctx, js, args[0])
	if err != nil {
		return err
	}
	k, attempt, err := logtail.Resolve(args[0], atts, logtail.Query{Crate: crate, Version: version, Toolchain: f.toolchain, Attempt: f.attempt})
	if err != nil {
		return badInput(err)
	}
	out := cmd.OutOrStdout()
	res, err := logtail.New(js, st).Copy(ctx, k, attempt, f.presenter(out)(out), logtail.Options{Follow: follow})
	if errors.Is(err, logtail.ErrNoLog) {
		return badInput(fmt.Errorf("%w (the build has not started; --follow waits for it)", err))
	}
	if err != nil {
		if follow && ctx.Err() != nil {
			return nil // interrupted
		}
		return err
	}
	if res.End != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), printable(fmt.Sprintf("-- %s attempt %d ended: %s, %d bytes", k, attempt, res.End.Status, res.End.Bytes)))
	}
	return nil
}

// tailExperiment prints every live log of exp, a prefix on each line. Each
// build's bytes pass through a presenter of their own before they are cut
// into lines, so that a sequence one build leaves open cannot swallow the
// lines of another.
func tailExperiment(cmd *cobra.Command, g *globals, exp string, follow bool, out io.Writer, present func(io.Writer) io.Writer) error {
	ctx := cmd.Context()
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return err
	}
	defer done()
	type build struct {
		lines *logtail.Prefixer
		w     io.Writer // present(lines)
	}
	builds := map[string]build{}
	err = buildlog.FollowExperiment(ctx, js, exp, follow, func(p buildlog.Piece) error {
		key := fmt.Sprintf("%s@%s/%s#%d", p.Build.Crate, p.Build.Version, p.Build.Toolchain, p.Attempt)
		name := printable(key)
		b, ok := builds[key]
		if !ok {
			b.lines = logtail.NewPrefixer(out, name+" | ")
			b.w = present(b.lines)
			builds[key] = b
		}
		if p.Chunk != nil {
			_, err := b.w.Write(p.Chunk.Data)
			return err
		}
		delete(builds, key)
		if err := b.lines.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "%s | -- ended: %s, %d bytes\n", name, printable(string(p.End.Status)), p.End.Bytes)
		return err
	})
	for _, b := range builds {
		b.lines.Flush()
	}
	return err
}
