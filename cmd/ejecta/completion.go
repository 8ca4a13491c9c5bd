package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// Shell completion (`ejecta completion bash|zsh|fish`) completes what the
// farm knows: experiment names, crates of an experiment, builder ids and
// toolchains, read from the NATS server like any read-only command (never
// creating a stream), and the fixed vocabularies: modes, output formats,
// lint levels, log levels. When the server does not answer within a
// second it completes nothing rather than make the shell wait.

const noFiles = cobra.ShellCompDirectiveNoFileComp

// withFarm runs f with a read-only JetStream handle on the farm cmd would
// connect to; nothing when it cannot be had quickly.
func withFarm(g *globals, cmd *cobra.Command, f func(context.Context, jetstream.JetStream) []string) []string {
	if err := g.configure(cmd); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
	defer cancel()
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return nil
	}
	defer done()
	return f(ctx, js)
}

// experimentNames are the farm's experiments.
func experimentNames(ctx context.Context, js jetstream.JetStream) []string {
	exps, err := status.List(ctx, js)
	if err != nil {
		return nil
	}
	names := make([]string, len(exps))
	for i, e := range exps {
		names[i] = e.Name
	}
	return names
}

// completeExperiments completes a first argument with the experiments on
// the NATS server.
func completeExperiments(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		return withFarm(g, cmd, experimentNames), noFiles
	}
}

// completeExperimentCrate completes EXP, then CRATE[@VERSION] of it: the
// crates with a job, a log or a result.
func completeExperimentCrate(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return withFarm(g, cmd, experimentNames), noFiles
		case 1:
			return withFarm(g, cmd, func(ctx context.Context, js jetstream.JetStream) []string {
				atts, err := logtail.Attempts(ctx, js, args[0])
				if err != nil {
					return nil
				}
				var out []string
				for _, a := range atts {
					// A bare name while it is typed; with its versions after '@'.
					c := a.Crate
					if strings.Contains(toComplete, "@") {
						c += "@" + a.Version
					}
					out = append(out, c)
				}
				slices.Sort(out)
				return slices.Compact(out)
			}), noFiles
		}
		return nil, noFiles
	}
}

// completeBuilders completes builder ids.
func completeBuilders(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return withFarm(g, cmd, func(ctx context.Context, js jetstream.JetStream) []string {
			hbs, err := status.Builders(ctx, js)
			if err != nil {
				return nil
			}
			var ids []string
			for _, hb := range hbs {
				if !slices.Contains(args, hb.ID) {
					ids = append(ids, hb.ID)
				}
			}
			return ids
		}), noFiles
	}
}

// builderToolchains are the toolchains live builders offer, short names
// (stable) as well as full ones (stable-x86_64-unknown-linux-gnu).
func builderToolchains(ctx context.Context, js jetstream.JetStream) []string {
	hbs, err := status.Builders(ctx, js)
	if err != nil {
		return nil
	}
	var out []string
	for _, hb := range hbs {
		for _, tc := range hb.Toolchains {
			out = append(out, tc, streams.ShortToolchain(tc))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// completeToolchainList completes a comma-separated list of toolchains
// (--toolchains A,B): the one being typed after the last comma.
func completeToolchainList(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		done, _ := cutLast(toComplete, ",")
		tcs := withFarm(g, cmd, builderToolchains)
		var out []string
		for _, tc := range tcs {
			if done != "" && slices.Contains(strings.Split(done, ","), tc) {
				continue
			}
			if done != "" {
				tc = done + "," + tc
			}
			out = append(out, tc)
		}
		return out, noFiles
	}
}

// completeToolchain completes --toolchain of tail and logs: the
// experiment's toolchains once it is named, else the builders'.
func completeToolchain(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return withFarm(g, cmd, func(ctx context.Context, js jetstream.JetStream) []string {
			if len(args) > 0 {
				if e, err := status.Record(ctx, js, args[0]); err == nil {
					return e.Toolchains
				}
			}
			return builderToolchains(ctx, js)
		}), noFiles
	}
}

// cutLast cuts s around the last sep: "a,b,c" is "a,b" and "c".
func cutLast(s, sep string) (before, after string) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s
	}
	return s[:i], s[i+len(sep):]
}

func fixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, noFiles)
}

func modeNameList() []string {
	out := make([]string, len(streams.Modes))
	for i, m := range streams.Modes {
		out[i] = string(m)
	}
	return out
}

// registerCompletions gives every command that takes an experiment, a
// builder, a mode, toolchains or a fixed vocabulary its completion.
func registerCompletions(g *globals, root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, f := range map[string]cobra.CompletionFunc{
			"mode":       fixed(modeNameList()...),
			"toolchains": completeToolchainList(g),
			"toolchain":  completeToolchain(g),
			"cap-lints":  fixed(streams.CapLints...),
			"color":      fixed("auto", "always", "never"),
		} {
			if c.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, f)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	_ = root.RegisterFlagCompletionFunc("log-level", fixed("debug", "info", "warn", "error"))
	_ = root.RegisterFlagCompletionFunc("log-format", fixed(logAuto, logConsole, logJSON))
}
