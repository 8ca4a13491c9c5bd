package store

import "testing"

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"exp/logs/stable/serde/1%2E0%2E0/1.log", true},
		{"report/index.html", true},
		{"a..b/c", true}, // dots inside a segment climb nowhere
		{".hidden", true},
		{"", false},
		{"..", false},
		{"../a", false},
		{"a/../b", false},
		{"a/..", false},
		{".", false},
		{"a/./b", false},
		{"/abs", false},
		{"/", false},
		{"a//b", false},
		{"a/", false},
		{`a\b`, false},
		{`..\a`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
	} {
		err := ValidateKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
}
