package streams_test

import (
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/streams"
)

func TestSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		s    streams.Security
		want string
		auth bool
	}{
		{streams.Security{}, "", false},
		{streams.Security{User: "viewer", Password: "x"}, "", true},
		{streams.Security{CredsFile: "/etc/farm.creds"}, "", true},
		{streams.Security{Token: "t"}, "", true},
		{streams.Security{NKeyFile: "/etc/farm.nk"}, "", true},
		{streams.Security{User: "viewer", Password: "x", CredsFile: "/etc/farm.creds"}, "want one way to authenticate", true},
		{streams.Security{Token: "t", NKeyFile: "/etc/farm.nk"}, "want one way to authenticate", true},
		{streams.Security{Password: "x"}, "without a user", false},
	} {
		err := tc.s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate() = %v, want %q", tc.s, err, tc.want)
		}
		if got := tc.s.Authenticated(); got != tc.auth {
			t.Errorf("%+v: Authenticated() = %v, want %v", tc.s, got, tc.auth)
		}
	}
}
