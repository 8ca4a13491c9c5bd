package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every flag of every command has an environment variable, named in its
// help; flags that share one are the same flag of different commands, and
// flags of the same name that mean different things have their own.
func TestEveryFlagHasOneEnvironmentVariable(t *testing.T) {
	root := newRootCmd()
	type use struct{ command, name, typ string }
	byEnv := map[string][]use{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalNonPersistentFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				env := envOf(f)
				if !strings.HasPrefix(env, "EJECTA_") || !strings.Contains(f.Usage, "(env "+env+")") {
					t.Errorf("%s --%s: environment %q, help %q", c.CommandPath(), f.Name, env, f.Usage)
				}
				byEnv[env] = append(byEnv[env], use{c.CommandPath(), f.Name, f.Value.Type()})
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for env, uses := range byEnv {
		for _, u := range uses[1:] {
			if u.name != uses[0].name || u.typ != uses[0].typ {
				t.Errorf("%s stands in for %s --%s (%s) and %s --%s (%s)", env, uses[0].command, uses[0].name, uses[0].typ, u.command, u.name, u.typ)
			}
		}
	}
	for _, tc := range []struct{ command, flag, env string }{
		{"ejecta", "nats", "EJECTA_NATS_URL"},
		{"ejecta builder", "timeout", "EJECTA_TIMEOUT"},
		{"ejecta up", "timeout", "EJECTA_TIMEOUT"},
		{"ejecta experiment create", "timeout", "EJECTA_EXPERIMENT_TIMEOUT"},
		{"ejecta experiment status", "timeout", "EJECTA_WATCH_TIMEOUT"},
		{"ejecta builder", "memory", "EJECTA_MEMORY"},
		{"ejecta experiment create", "memory", "EJECTA_EXPERIMENT_MEMORY"},
		{"ejecta up", "nats-port", "EJECTA_NATS_PORT"},
		{"ejecta experiment create", "crates", "EJECTA_CRATES"},
		{"ejecta experiment retry", "crates", "EJECTA_RETRY_CRATES"},
		{"ejecta experiment delete", "force", "EJECTA_DELETE_FORCE"},
		{"ejecta auth init", "force", "EJECTA_AUTH_FORCE"},
		{"ejecta uploader", "name", "EJECTA_UPLOADER_NAME"},
		{"ejecta auth cluster", "name", "EJECTA_CLUSTER_NAME"},
		{"ejecta web", "max-streams", "EJECTA_WEB_MAX_STREAMS"},
		{"ejecta builder", "toolchain-path", "EJECTA_TOOLCHAIN_PATHS"},
	} {
		c, _, err := root.Find(strings.Fields(tc.command)[1:])
		if err != nil {
			t.Fatal(err)
		}
		f := commandFlag(c, tc.flag)
		if f == nil || envOf(f) != tc.env {
			t.Errorf("%s --%s: environment %v, want %s", tc.command, tc.flag, f, tc.env)
		}
	}
}

// runRoot runs ejecta with args and returns the command that ran, to
// inspect its flags, and its error.
func runRoot(t *testing.T, args ...string) (*cobra.Command, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	c, err := root.ExecuteContextC(ctx)
	return c, err
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ejecta.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The configuration file sets what neither the command line nor the
// environment does: top-level keys for every command with the flag, a
// command's table for it alone, the most specific first.
func TestConfigFile(t *testing.T) {
	hidden := t.TempDir()
	file := writeConfig(t, `
nats = "nats://127.0.0.1:1"
log-level = "warn"
slots = 2

[builder]
slots = 3
memory = "2G"
sandbox-hide = ["`+hidden+`/a", "`+hidden+`/b"]
no-output-timeout = "7m"

[experiment.status]
timeout = "1m"
`)
	flag := func(c *cobra.Command, name string) string { return c.Flags().Lookup(name).Value.String() }
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want map[string]string
	}{
		{"file", nil, []string{"builder", "--config", file, "--work-dir", t.TempDir()},
			map[string]string{"nats": "nats://127.0.0.1:1", "slots": "3", "memory": "2G", "log-level": "warn",
				"sandbox-hide": "[" + hidden + "/a," + hidden + "/b]", "no-output-timeout": "7m0s"}},
		{"top level where no table says", nil, []string{"up", "--config", file, "--data", t.TempDir(), "--nats-port", "-5"},
			map[string]string{"slots": "2"}},
		{"environment over file", map[string]string{"EJECTA_SLOTS": "5"}, []string{"builder", "--config", file, "--work-dir", t.TempDir()},
			map[string]string{"slots": "5", "memory": "2G"}},
		{"command line over both", map[string]string{"EJECTA_SLOTS": "5"}, []string{"builder", "--config", file, "--slots", "7", "--work-dir", t.TempDir()},
			map[string]string{"slots": "7"}},
		{"file from the environment", map[string]string{"EJECTA_CONFIG": file}, []string{"builder", "--work-dir", t.TempDir()},
			map[string]string{"slots": "3"}},
		{"a table of another command", nil, []string{"experiment", "status", "x", "--config", file},
			map[string]string{"timeout": "1m0s", "nats": "nats://127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := runRoot(t, tc.args...)
			if err == nil {
				t.Fatalf("ran against an unreachable server without an error")
			}
			for name, want := range tc.want {
				if got := flag(c, name); got != want {
					t.Errorf("--%s = %q, want %q (error %v)", name, got, want, err)
				}
			}
		})
	}
}

// A configuration that asks for flags that make no sense, or for values
// the flags refuse, is bad input naming the file and the key.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown key", "nats = \"x\"\nslotz = 3\n", "slotz: no command has a flag --slotz"},
		{"unknown key in a table", "[builder]\nstore = \"file:///x\"\n", "builder.store: 'ejecta builder' has no flag --store"},
		{"unknown table", "[bilder]\nslots = 3\n", `[bilder]: no command "bilder"`},
		{"a flag meaning two things", "timeout = \"1m\"\n", "timeout: --timeout means different things to"},
		{"a flag meaning two things in a table", "[experiment]\ntimeout = \"1m\"\n", "[experiment.create], [experiment.status]"},
		{"bad value", "[builder]\nslots = \"many\"\n", `[builder] slots = "many" (for --slots)`},
		{"not TOML", "slots = = 3\n", "--config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeConfig(t, tc.text)
			_, err := runRoot(t, "builder", "--config", file, "--nats", "nats://127.0.0.1:1", "--work-dir", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
				t.Errorf("error %v (exit %d), want exit 2 and %q", err, exitCode(err), tc.want)
			}
		})
	}
	_, err := runRoot(t, "builders", "--config", filepath.Join(t.TempDir(), "missing.toml"))
	if err == nil || !strings.Contains(err.Error(), "missing.toml") || exitCode(err) != 2 {
		t.Errorf("a missing --config: %v, want exit 2 naming it", err)
	}
}

// Required flags may come from the environment or the file too.
func TestRequiredFlagsFromTheConfiguration(t *testing.T) {
	file := writeConfig(t, "[experiment.create]\ntoolchains = \"stable,nightly\"\nmode = \"check-only\"\n")
	t.Setenv("EJECTA_CRATES", "cfg-if")
	_, err := runRoot(t, "--nats", "nats://127.0.0.1:1", "--config", file, "experiment", "create", "e1")
	if err == nil || strings.Contains(err.Error(), "required") || exitCode(err) != 1 {
		t.Errorf("create with its required flags from the file and environment: %v, want only the server unreachable", err)
	}
}
