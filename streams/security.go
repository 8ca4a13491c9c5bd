package streams

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Security is how a component proves who it is to NATS and protects the
// connection: a user and password (one per role, see RolePermissions), or
// one of NATS's other ways (a .creds file of a decentralised JWT setup, an
// nkey seed, a token), and TLS with a CA to trust and an optional client
// certificate.
type Security struct {
	User, Password string
	// CredsFile is a NATS .creds file: a user JWT and its nkey seed.
	CredsFile string
	// NKeyFile holds a user's nkey seed.
	NKeyFile string
	// Token is a server's authorization token.
	Token string
	// CAFile is the CA that signed the servers' certificates; setting it
	// makes the connection require TLS.
	CAFile string
	// CertFile and KeyFile are the client certificate, for servers that
	// verify clients; both or neither.
	CertFile, KeyFile string
	// InboxPrefix replaces the inbox prefix a role's user implies (or
	// nats.go's default), for servers set up for another.
	InboxPrefix string
	// TLSFirst starts TLS before the server's INFO, for servers that
	// require it (handshake_first).
	TLSFirst bool
}

// Authenticated reports whether the component proves who it is: it then
// runs as a role, which may not create streams (see Lookup).
func (s Security) Authenticated() bool {
	return s.User != "" || s.CredsFile != "" || s.NKeyFile != "" || s.Token != ""
}

// Validate names the first bad field.
func (s Security) Validate() error {
	n := 0
	for _, set := range []bool{s.User != "", s.CredsFile != "", s.NKeyFile != "", s.Token != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("nats user, creds file, nkey and token: want one way to authenticate")
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
	switch {
	case s.User != "":
		opts = append(opts, nats.UserInfo(s.User, s.Password))
		// A role's user is named after it, a builder host's after the
		// host (auth init), and may subscribe only to its own inboxes.
		// Another user keeps the default.
		if _, err := UserRole(s.User); err == nil && s.InboxPrefix == "" {
			opts = append(opts, nats.CustomInboxPrefix(UserInboxPrefix(s.User)))
		}
	case s.CredsFile != "":
		opts = append(opts, nats.UserCredentials(s.CredsFile))
	case s.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(s.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nkey %s: %w", s.NKeyFile, err)
		}
		opts = append(opts, opt)
	case s.Token != "":
		opts = append(opts, nats.Token(s.Token))
	}
	if s.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(s.InboxPrefix))
	}
	if s.CAFile != "" {
		opts = append(opts, nats.RootCAs(s.CAFile))
	}
	if s.CertFile != "" {
		opts = append(opts, nats.ClientCert(s.CertFile, s.KeyFile))
	}
	if s.TLSFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	return opts, nil
}
