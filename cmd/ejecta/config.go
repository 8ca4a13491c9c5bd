package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// One configuration: every flag of every command can be given on the
// command line, in an environment variable, or in the configuration file,
// in that order of precedence, before its built-in default.
//
// A flag's environment variable is EJECTA_ and its name, or another bound
// to it when it is declared (bindEnv), and its help says which. The
// configuration file is TOML: a key is a flag's name, at the top level
// for every command that has the flag, or in a table named after a
// command ([builder], [experiment.create]) for that command and those
// under it:
//
//	nats = "nats://n1:4222,nats://n2:4222"
//	store = "s3://ejecta-logs?endpoint=minio:9000&secure=false"
//
//	[builder]
//	slots = 8
//	memory = "2GiB"
//
// A key that names no flag is an error, as is one that means different
// things to different commands of its table (timeout is the builder's per
// build and `experiment status --watch`'s in all): it belongs in theirs.

// envAnnotation is the pflag annotation that names a flag's environment
// variable.
const envAnnotation = "ejecta-env"

// defaultConfigFile is read when it exists and --config names no other.
const defaultConfigFile = "/etc/ejecta/ejecta.toml"

// bindEnv makes environment variable v stand in for flag name of fs,
// instead of the one named after the flag (envOf).
func bindEnv(fs *pflag.FlagSet, name, v string) {
	if fs.Lookup(name) == nil {
		panic("bindEnv: no flag --" + name)
	}
	_ = fs.SetAnnotation(name, envAnnotation, []string{v})
}

// envOf is the environment variable that stands in for f: the one bound
// to it, else EJECTA_ and its name (--crate-source: EJECTA_CRATE_SOURCE).
func envOf(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) == 1 {
		return v[0]
	}
	return "EJECTA_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// describeEnv names each flag's environment variable in its help, for c
// and every command under it.
func describeEnv(c *cobra.Command) {
	for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			f.Usage += " (env " + envOf(f) + ")"
		})
	}
	for _, sub := range c.Commands() {
		describeEnv(sub)
	}
}

// applyEnv sets every flag of fs the command line did not set from its
// environment variable, parsed by the flag itself: a bad value is bad input
// that names the variable and the flag.
func applyEnv(fs *pflag.FlagSet) error {
	return applySources(fs, nil)
}

// applySources sets every flag of fs the command line did not set from its
// environment variable or, failing that, from file (nil: none).
func applySources(fs *pflag.FlagSet, file *configValues) error {
	var first error
	fs.VisitAll(func(f *pflag.Flag) {
		if first != nil || f.Changed {
			return
		}
		v := envOf(f)
		if value, ok := os.LookupEnv(v); ok && value != "" {
			if err := setFlag(f, value); err != nil {
				first = badInput(fmt.Errorf("environment %s=%q (for --%s): %w", v, value, f.Name, err))
			}
			return
		}
		if file == nil {
			return
		}
		if value, where, ok := file.lookup(f.Name); ok {
			if err := setFlag(f, value); err != nil {
				first = badInput(fmt.Errorf("%s: %s = %q (for --%s): %w", file.path, where, value, f.Name, err))
			}
		}
	})
	return first
}

// setFlag sets f as if the command line had: it counts as changed, so that
// a command that asks whether a flag was given (required flags, `up`'s
// --work-dir) sees it.
func setFlag(f *pflag.Flag, value string) error {
	if err := f.Value.Set(value); err != nil {
		return err
	}
	f.Changed = true
	return nil
}

// configValues are what a configuration file says for one command: its
// tables from the command's own outwards to the top level.
type configValues struct {
	path   string
	tables []configTable
}

type configTable struct {
	name   string // "" for the top level, else e.g. "experiment.create"
	values map[string]any
}

// lookup finds flag name in the most specific table that has it and
// returns its value as a flag would be given it, and where it was found.
func (c *configValues) lookup(name string) (value, where string, ok bool) {
	for _, t := range c.tables {
		v, found := t.values[name]
		if !found {
			continue
		}
		where = name
		if t.name != "" {
			where = "[" + t.name + "] " + name
		}
		return flagValue(v), where, true
	}
	return "", "", false
}

// flagValue spells a TOML value as the command line would.
func flagValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = flagValue(p)
		}
		return strings.Join(parts, ",")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// loadConfig reads the configuration file at path ("" for the default,
// which may be missing) and checks every key against root's commands.
func loadConfig(root *cobra.Command, path string) (map[string]any, string, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigFile
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, "", nil
	}
	if err != nil {
		return nil, path, badInput(fmt.Errorf("--config: %w", err))
	}
	var top map[string]any
	if err := toml.Unmarshal(data, &top); err != nil {
		return nil, path, badInput(fmt.Errorf("--config %s: %w", path, err))
	}
	if err := checkTable(root, "", top); err != nil {
		return nil, path, badInput(fmt.Errorf("--config %s: %w", path, err))
	}
	return top, path, nil
}

// checkTable checks table, the configuration of command c (named name in
// the file): each key is a subcommand's table or a flag that means one
// thing to c and every command under it that has it.
func checkTable(c *cobra.Command, name string, table map[string]any) error {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		qualified := k
		if name != "" {
			qualified = name + "." + k
		}
		if sub, ok := table[k].(map[string]any); ok {
			child := subcommand(c, k)
			if child == nil {
				return fmt.Errorf("[%s]: no command %q", qualified, strings.ReplaceAll(qualified, ".", " "))
			}
			if err := checkTable(child, qualified, sub); err != nil {
				return err
			}
			continue
		}
		envs := map[string][]string{}
		collectFlag(c, k, envs)
		switch len(envs) {
		case 0:
			if !c.HasParent() {
				return fmt.Errorf("%s: no command has a flag --%s", qualified, k)
			}
			return fmt.Errorf("%s: '%s' has no flag --%s", qualified, c.CommandPath(), k)
		case 1:
		default:
			var where []string
			for _, paths := range envs {
				where = append(where, paths...)
			}
			slices.Sort(where)
			return fmt.Errorf("%s: --%s means different things to %s: put it in their tables", qualified, k, strings.Join(where, ", "))
		}
	}
	return nil
}

// collectFlag records, by environment variable, the commands at or under c
// that have flag name (their own or inherited).
func collectFlag(c *cobra.Command, name string, envs map[string][]string) {
	if f := commandFlag(c, name); f != nil && c.Runnable() {
		envs[envOf(f)] = append(envs[envOf(f)], "["+strings.ReplaceAll(strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" "), " ", ".")+"]")
	}
	for _, sub := range c.Commands() {
		collectFlag(sub, name, envs)
	}
}

// commandFlag is c's flag name, its own or inherited from a parent's
// persistent flags.
func commandFlag(c *cobra.Command, name string) *pflag.Flag {
	for p := c; p != nil; p = p.Parent() {
		if f := p.PersistentFlags().Lookup(name); f != nil {
			return f
		}
	}
	return c.LocalNonPersistentFlags().Lookup(name)
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name {
			return sub
		}
	}
	return nil
}

// valuesFor are the tables of a configuration file that apply to c, its
// own first.
func valuesFor(c *cobra.Command, top map[string]any, path string) *configValues {
	if top == nil {
		return nil
	}
	var names []string
	for p := c; p.HasParent(); p = p.Parent() {
		names = append([]string{p.Name()}, names...)
	}
	cv := &configValues{path: path}
	tables := []configTable{{values: top}}
	cur := top
	for i, n := range names {
		next, ok := cur[n].(map[string]any)
		if !ok {
			break
		}
		tables = append(tables, configTable{name: strings.Join(names[:i+1], "."), values: next})
		cur = next
	}
	slices.Reverse(tables)
	cv.tables = tables
	return cv
}

// configure applies the environment and the configuration file to the
// flags of cmd that its command line did not set. The root command runs
// it before any command; completion, which runs no hook, calls it itself.
func (g *globals) configure(cmd *cobra.Command) error {
	if g.configured {
		return nil
	}
	g.configured = true
	// --config itself comes from the command line or the environment.
	if err := applyEnv(onlyFlag(cmd.Flags(), "config")); err != nil {
		return err
	}
	top, path, err := loadConfig(cmd.Root(), g.configFile)
	if err != nil {
		return err
	}
	return applySources(cmd.Flags(), valuesFor(cmd, top, path))
}

// onlyFlag is a flag set holding fs's flag name alone.
func onlyFlag(fs *pflag.FlagSet, name string) *pflag.FlagSet {
	one := pflag.NewFlagSet(name, pflag.ContinueOnError)
	if f := fs.Lookup(name); f != nil {
		one.AddFlag(f)
	}
	return one
}

// requireFlags is a PreRunE that refuses, as bad input, a command none of
// whose sources (command line, environment, configuration file) set every
// flag of names. Cobra's MarkFlagRequired cannot: it checks the command
// line alone, before the others are applied.
func requireFlags(names ...string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		var missing []string
		for _, n := range names {
			if f := cmd.Flags().Lookup(n); f != nil && !f.Changed {
				missing = append(missing, strconv.Quote(n))
			}
		}
		if len(missing) > 0 {
			return badInput(fmt.Errorf("required flag(s) %s not set", strings.Join(missing, ", ")))
		}
		return nil
	}
}
