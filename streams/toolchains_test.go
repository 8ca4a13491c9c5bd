package streams

import (
	"strings"
	"testing"
)

func TestToolchainProvides(t *testing.T) {
	tests := []struct {
		installed, tc string
		want          bool
	}{
		{"stable-x86_64-unknown-linux-gnu", "stable", true},
		{"stable-x86_64-unknown-linux-gnu", "stable-x86_64-unknown-linux-gnu", true},
		{"nightly-x86_64-unknown-linux-gnu", "nightly", true},
		{"nightly-2026-01-01-x86_64-unknown-linux-gnu", "nightly", false},
		{"nightly-2026-01-01-x86_64-unknown-linux-gnu", "nightly-2026-01-01", true},
		{"1.80.0-x86_64-unknown-linux-gnu", "1.80.0", true},
		{"1.80.0-x86_64-unknown-linux-gnu", "1.80", false},
		{"my-custom", "my-custom", true},
		{"stable-x86_64-unknown-linux-gnu", "beta", false},
		{"stable-", "stable", false},
		{"/opt/rust/stage2", "/opt/rust/stage2", true},
		{"/opt/rust/stage2-new", "/opt/rust/stage2", false},
		{"/opt/rust/stage2", "/opt/rust", false},
		{"/opt/stable", "stable", false},
		{"stable-x86_64-unknown-linux-gnu", "/stable", false},
	}
	for _, tt := range tests {
		if got := ToolchainProvides(tt.installed, tt.tc); got != tt.want {
			t.Errorf("ToolchainProvides(%q, %q) = %v, want %v", tt.installed, tt.tc, got, tt.want)
		}
	}
}

// Any rustup toolchain name passes; nothing a shell or a path could misread does.
func TestValidateToolchainNames(t *testing.T) {
	for _, ok := range []string{"stable", "beta", "nightly", "nightly-2026-01-01", "1.80.0", "1.80",
		"stable-x86_64-unknown-linux-gnu", "nightly-2026-01-01-x86_64-unknown-linux-gnu", "my_custom-toolchain",
		"/opt/rust/stage2", "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu", "/srv/rust-1.80.0+patched"} {
		if err := ValidateToolchain(ok); err != nil {
			t.Errorf("ValidateToolchain(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "stable;rm -rf /", "$(id)", "`id`", "a b", "nightly|sh", "a&b", "../stable",
		"-stable", ".hidden", "stable>x", "sta\"ble", "sta'ble", "stable\n", "a*",
		"/", "/opt/", "/opt//rust", "/opt/../etc", "/opt/./rust", "/opt/..", "/opt/ru st", "/opt/rust;id", "/opt/rust\n", "/opt/*",
		"opt/rust", "/" + strings.Repeat("a", 300)} {
		if err := ValidateToolchain(bad); err == nil {
			t.Errorf("ValidateToolchain(%q) accepted it", bad)
		}
	}
}

func TestShortToolchain(t *testing.T) {
	for installed, want := range map[string]string{
		"stable-x86_64-unknown-linux-gnu":             "stable",
		"nightly-2026-01-01-x86_64-unknown-linux-gnu": "nightly-2026-01-01",
		"1.80.0-x86_64-unknown-linux-gnu":             "1.80.0",
		"beta":                                        "beta",
		"/opt/rust/stage2":                            "/opt/rust/stage2",
	} {
		got := ShortToolchain(installed)
		if got != want || !ToolchainProvides(installed, got) {
			t.Errorf("ShortToolchain(%q) = %q, want %q, which it provides", installed, got, want)
		}
	}
}
