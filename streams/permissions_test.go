package streams

import (
	"strings"
	"testing"
)

// TestRolePermissionsNameOnlyEjectaSubjects guards the derivation: every
// allowed subject is one of ejecta's or a JetStream API subject on one of
// its streams, and only admin holds a full wildcard.
func TestRolePermissionsNameOnlyEjectaSubjects(t *testing.T) {
	for _, role := range Roles {
		p, err := RolePermissions(role)
		if err != nil {
			t.Fatal(err)
		}
		for _, subj := range append(p.Publish, p.Subscribe...) {
			if role == RoleAdmin {
				continue
			}
			ok := subj == InboxPrefix(role)+".>" || strings.HasPrefix(subj, "ejecta.") || strings.HasPrefix(subj, "$KV.ejecta-") ||
				strings.Contains(subj, "EJECTA_") || strings.Contains(subj, "KV_ejecta-")
			if !ok || subj == ">" {
				t.Errorf("%s may use %q: not one of ejecta's subjects", role, subj)
			}
		}
	}
	if _, err := RolePermissions("root"); err == nil || !strings.Contains(err.Error(), `"root"`) {
		t.Errorf("unknown role: %v, want an error naming it", err)
	}
}
