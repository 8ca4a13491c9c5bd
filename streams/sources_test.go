package streams

import (
	"strings"
	"testing"
)

func TestValidateCrateSource(t *testing.T) {
	for _, tc := range []struct {
		source, wantErr string // "" accepts
		registry        bool
	}{
		{source: "/usr/share/cargo/registry"},
		{source: "/srv/vendor/"},
		{source: "sparse+https://index.crates.io/", registry: true},
		{source: "sparse+http://127.0.0.1:8080/index/", registry: true},
		{source: "", wantErr: "want an absolute directory"},
		{source: "vendor", wantErr: "want an absolute directory"},
		{source: "/a\nb", wantErr: "want an absolute directory"},
		{source: "https://index.crates.io/", wantErr: "want an absolute directory or sparse+"},
		{source: "sparse+ftp://host/index/", wantErr: "want sparse+http:// or sparse+https://", registry: true},
		{source: "sparse+https:///index/", wantErr: "no host", registry: true},
		{source: "sparse+https://host/index", wantErr: "ends with '/'", registry: true},
		{source: "sparse+https://user:pw@host/index/", wantErr: "no user, query or fragment", registry: true},
		{source: "sparse+https://host/index/?x=1", wantErr: "no user, query or fragment", registry: true},
		{source: `sparse+https://host/in"dex/`, wantErr: "quotes", registry: true},
		{source: "sparse+https://host/%zz/", wantErr: "invalid URL escape", registry: true},
	} {
		err := ValidateCrateSource(tc.source)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.source, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.source, err, tc.wantErr)
		}
		if got := IsRegistrySource(tc.source); got != tc.registry {
			t.Errorf("IsRegistrySource(%q) = %v", tc.source, got)
		}
	}
}

func TestCrateSourceWarning(t *testing.T) {
	for _, tc := range []struct {
		source string
		warn   bool
	}{
		{"sparse+http://127.0.0.1:8080/index/", true},
		{"sparse+HTTP://mirror.example/index/", true},
		{"sparse+https://index.crates.io/", false},
		{"/usr/share/cargo/registry", false},
	} {
		w := CrateSourceWarning(tc.source)
		switch {
		case !tc.warn && w != "":
			t.Errorf("%s: warning %q, want none", tc.source, w)
		case tc.warn && (!strings.Contains(w, tc.source) || !strings.Contains(w, "read over plain HTTP") || !strings.Contains(w, "only as trustworthy as the index")):
			t.Errorf("%s: warning %q, want one naming it and the index's trust", tc.source, w)
		}
	}
}
