package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// --log-window (env EJECTA_LOG_WINDOW) refuses what the builder would not
// take, or would silently replace (0 means "default" to it), before
// anything connects, naming the flag or the variable.
func TestLogWindowValidation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		env, value string
		want       string
	}{
		{"zero", []string{"--log-window", "0"}, "", "", `invalid argument "0" for "--log-window" flag: 0: want 1 to 4096`},
		{"too large", []string{"--log-window", "4097"}, "", "", "4097: want 1 to 4096"},
		{"not a number", []string{"--log-window", "lots"}, "", "", `"lots": want a whole number from 1 to 4096`},
		{"env too large", nil, "EJECTA_LOG_WINDOW", "5000", `environment EJECTA_LOG_WINDOW="5000" (for --log-window): 5000: want 1 to 4096`},
		{"env negative", nil, "EJECTA_LOG_WINDOW", "-1", `environment EJECTA_LOG_WINDOW="-1" (for --log-window)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.value)
			}
			_, err := run(t, append([]string{"builder", "--nats", "nats://127.0.0.1:1"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var ue usageError
			if tc.env != "" && !errors.As(err, &ue) {
				t.Errorf("error %v is not a usage error", err)
			}
		})
	}
}

// A valid window, from the flag or the environment, is what the builder
// is configured with; the default is the builder's.
func TestLogWindowValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want int
	}{
		{"default", nil, "", 64},
		{"flag", []string{"--log-window", "1"}, "", 1},
		{"env", nil, "4096", 4096},
		{"flag over env", []string{"--log-window", "8"}, "300", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("EJECTA_LOG_WINDOW", tc.env)
			}
			var f builderFlags
			fs := pflag.NewFlagSet("builder", pflag.ContinueOnError)
			f.register(fs, "/var/lib/ejecta/work")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := applyEnv(fs); err != nil {
				t.Fatal(err)
			}
			if f.logWindow != tc.want {
				t.Errorf("log window %d, want %d", f.logWindow, tc.want)
			}
		})
	}
}
