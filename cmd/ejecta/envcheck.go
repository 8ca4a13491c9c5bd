package main

import (
	"fmt"
	"os"
	"regexp"

	"github.com/spf13/pflag"
)

// envInHelp finds the environment variable a flag's help text names.
var envInHelp = regexp.MustCompile(`\(env (EJECTA_[A-Z0-9_]+)\)`)

// checkEnv parses, with the flag's own parser, every environment variable
// that stands in for a typed flag (a number, a duration) the command line
// did not set. Flag defaults are read from the environment when the flags
// are declared, where a bad value can only fall back to the default; here it
// becomes an error that names the variable and the flag.
func checkEnv(fs *pflag.FlagSet) error {
	var first error
	fs.VisitAll(func(f *pflag.Flag) {
		if first != nil || f.Changed || f.Value.Type() == "string" {
			return
		}
		m := envInHelp.FindStringSubmatch(f.Usage)
		if m == nil {
			return
		}
		v, ok := os.LookupEnv(m[1])
		if !ok || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			first = badInput(fmt.Errorf("environment %s=%q (for --%s): %w", m[1], v, f.Name, err))
		}
	})
	return first
}
