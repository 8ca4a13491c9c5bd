package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/ejecta-build/ejecta/builder"
)

// --shared-target-size (EJECTA_SHARED_TARGET_SIZE) bounds each slot's
// shared target; 0 turns shared targets off.
func TestSharedTargetSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		env       string
		want      int64
		wantError string
	}{
		{"default", nil, "", builder.DefaultSharedTargetBytes, ""},
		{"flag", []string{"--shared-target-size", "1GiB"}, "", 1 << 30, ""},
		{"env", nil, "512MiB", 512 << 20, ""},
		{"off", []string{"--shared-target-size", "0"}, "", -1, ""},
		{"off by env", nil, "0", -1, ""},
		{"too small", []string{"--shared-target-size", "1MiB"}, "", 0, "shared target bytes"},
		{"garbage", []string{"--shared-target-size", "lots"}, "", 0, "--shared-target-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("EJECTA_SHARED_TARGET_SIZE", tc.env)
			}
			var f builderFlags
			fs := pflag.NewFlagSet("builder", pflag.ContinueOnError)
			f.register(fs, t.TempDir())
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := applyEnv(fs); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config()
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("config = %v, want an error naming %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SharedTargetBytes != tc.want {
				t.Errorf("shared target bytes %d, want %d", cfg.SharedTargetBytes, tc.want)
			}
		})
	}
}
