package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// memoryLimitFlag registers --memory-limit for a component that runs alone
// in its process, def by default (0: none), env its environment variable.
func memoryLimitFlag(fs *pflag.FlagSet, dst *string, def int64, env string) {
	value := "0"
	if def > 0 {
		value = sizeString(def)
	}
	fs.StringVar(dst, "memory-limit", value,
		"soft memory limit of the process (the Go runtime's; GOMEMLIMIT, if set, wins); 0 for none")
	bindEnv(fs, "memory-limit", env)
}

// applyMemoryLimit sets the process's soft memory limit from the flag's
// value unless GOMEMLIMIT already did.
func applyMemoryLimit(s string) error {
	if os.Getenv("GOMEMLIMIT") != "" || s == "0" {
		return nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return badInput(fmt.Errorf("--memory-limit: %w", err))
	}
	debug.SetMemoryLimit(n)
	return nil
}
