package streams

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Security is how a component proves who it is to NATS and protects the
// connection: a user and password (one per role, see RolePermissions) and
// TLS with a CA to trust and an optional client certificate.
type Security struct {
	User, Password string
	// CAFile is the CA that signed the servers' certificates; setting it
	// makes the connection require TLS.
	CAFile string
	// CertFile and KeyFile are the client certificate, for servers that
	// verify clients; both or neither.
	CertFile, KeyFile string
}

// Authenticated reports whether a user is set: the component then runs as a
// role, which may not create streams (see Lookup).
func (s Security) Authenticated() bool { return s.User != "" }

// Validate names the first bad field.
func (s Security) Validate() error {
	switch {
	case s.User == "" && s.Password != "":
		return errors.New("nats password given without a user")
	case s.User != "" && s.Password == "":
		return fmt.Errorf("nats user %q given without a password", s.User)
	case (s.CertFile == "") != (s.KeyFile == ""):
		return errors.New("tls cert and tls key: want both or neither")
	}
	return nil
}

// Options are the nats.Connect options that apply s.
func (s Security) Options() ([]nats.Option, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	if s.User != "" {
		opts = append(opts, nats.UserInfo(s.User, s.Password))
		// A role's user is named after it (auth init) and may subscribe
		// only to its role's inboxes. Another user keeps the default.
		if role, err := ParseRole(s.User); err == nil {
			opts = append(opts, nats.CustomInboxPrefix(InboxPrefix(role)))
		}
	}
	if s.CAFile != "" {
		opts = append(opts, nats.RootCAs(s.CAFile))
	}
	if s.CertFile != "" {
		opts = append(opts, nats.ClientCert(s.CertFile, s.KeyFile))
	}
	return opts, nil
}
