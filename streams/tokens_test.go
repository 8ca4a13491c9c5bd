package streams

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The validators match names as the regexps they replaced did.
func TestTokensMatchTheirRegexps(t *testing.T) {
	checks := []struct {
		name  string
		re    *regexp.Regexp
		valid func(string) error
	}{
		{"experiment", regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`), ValidateExperimentName},
		{"crate", regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`), ValidateCrateName},
		{"builder", regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`), ValidateBuilderID},
		{"toolchain", regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`), ValidateToolchain},
	}
	inputs := []string{"", "a", "A", "0", "-", "_", ".", "a-", "a_b", "a.b", "nightly-2026-01-01", "1.80.0",
		"beta-x86_64-unknown-linux-gnu", "Serde", "serde\n", "\nserde", "ser de", "sérde", "a\x00", "a/b", "a+b",
		"/opt/rust", "..", "a..b", strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65),
		strings.Repeat("b", 127), strings.Repeat("b", 128), strings.Repeat("b", 129), "Z" + strings.Repeat("_", 63)}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09_-.+/ \n\x00é"
	for range 20000 {
		n := rng.IntN(8)
		if rng.IntN(10) == 0 {
			n = 60 + rng.IntN(72)
		}
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for _, c := range checks {
		for _, s := range inputs {
			want := c.re.MatchString(s)
			if c.name == "toolchain" && strings.HasPrefix(s, "/") {
				continue // a custom toolchain's path, which ValidateToolchain checks apart
			}
			if got := c.valid(s) == nil; got != want {
				t.Errorf("%s %q: valid %v, the regexp says %v", c.name, s, got, want)
			}
		}
	}
}

func BenchmarkValidateResultNames(b *testing.B) {
	for b.Loop() {
		_ = ValidateExperimentName("report700000")
		_ = ValidateCrateName("ab-crate-123456")
		_ = ValidateToolchain("nightly-2026-01-01")
		_ = ValidateBuilderID("b1")
	}
}
