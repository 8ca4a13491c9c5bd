package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ejecta-build/ejecta/streams"
	"golang.org/x/crypto/bcrypt"
)

// File names written under Options.Dir.
const (
	// ServerConfigFile is the nats-server configuration to start with
	// `nats-server -c`: listen address, JetStream, TLS and the users.
	ServerConfigFile = "nats-server.conf"
	// UsersFile holds the authorization block alone, so that other server
	// configurations (each node of a cluster) can include it.
	UsersFile = "users.conf"
)

// CredentialsFile is the name of role's credentials file under Options.Dir.
func CredentialsFile(role streams.Role) string { return UserCredentialsFile(string(role)) }

// UserCredentialsFile is the name of NATS user's credentials file under
// Options.Dir: a role's, or a builder host's (streams.BuilderUser).
func UserCredentialsFile(user string) string { return user + ".env" }

// ServerTLS is the server's certificate, key and the CA that signs client
// certificates. With it the server requires TLS and verifies every client's
// certificate.
type ServerTLS struct {
	CertFile, KeyFile, CAFile string
}

// Options say what Init writes.
type Options struct {
	// Dir receives the files; it is created with mode 0700.
	Dir string
	// Listen is the client address, e.g. "0.0.0.0:4222".
	Listen string
	// StoreDir is JetStream's storage directory.
	StoreDir string
	// TLS, when set, makes the server require verified client certificates.
	TLS *ServerTLS
	// Force overwrites existing files: new passwords for every role. The
	// job key is kept (see NewJobKey).
	Force bool
	// NewJobKey writes a new job key even where Force finds one. Results
	// and upload requests of jobs queued under the old key are then
	// refused: rotate it between experiments.
	NewJobKey bool
	// Builders, when set, names the builder hosts: each gets a user of
	// its own (streams.BuilderUser) with inboxes no other builder can
	// read, in place of the one builder user all builders share.
	Builders []string
}

// Users are the NATS users Init writes, each with a credentials file
// (UserCredentialsFile), in a stable order.
func (o Options) Users() []string {
	var users []string
	for _, r := range streams.Roles {
		if r != streams.RoleBuilder || len(o.Builders) == 0 {
			users = append(users, string(r))
			continue
		}
		for _, b := range o.Builders {
			users = append(users, streams.BuilderUser(b))
		}
	}
	return users
}

// Validate names the first bad field.
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("dir: want a directory")
	case o.Listen == "":
		return errors.New("listen: want HOST:PORT")
	case o.StoreDir == "":
		return errors.New("store dir: want a directory")
	}
	seen := map[string]bool{}
	for _, b := range o.Builders {
		if err := streams.ValidateBuilderName(b); err != nil {
			return fmt.Errorf("builders: %w", err)
		}
		if seen[b] {
			return fmt.Errorf("builders: %q named twice", b)
		}
		seen[b] = true
	}
	return o.TLS.validate()
}

// validate names the first missing file of t, if t is set.
func (t *ServerTLS) validate() error {
	if t == nil {
		return nil
	}
	for _, f := range []struct{ name, path string }{{"tls cert", t.CertFile}, {"tls key", t.KeyFile}, {"tls ca", t.CAFile}} {
		if f.path == "" {
			return fmt.Errorf("%s: want a file (all of cert, key and ca, or none)", f.name)
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// Init writes the server configuration, the users file and one credentials
// file per role under o.Dir, with fresh random passwords. It refuses to
// overwrite existing files unless o.Force.
func Init(o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.Dir, err)
	}
	names := []string{ServerConfigFile, UsersFile}
	for _, u := range o.Users() {
		names = append(names, UserCredentialsFile(u))
	}
	if !o.Force {
		for _, n := range names {
			p := filepath.Join(o.Dir, n)
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists: pass --force to replace every file and password", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("check %s: %w", p, err)
			}
		}
	}
	key, err := o.jobKey()
	if err != nil {
		return err
	}
	var users []user
	for _, name := range o.Users() {
		perms, err := streams.UserPermissions(name)
		if err != nil {
			return err
		}
		role, err := streams.UserRole(name)
		if err != nil {
			return err
		}
		pw, err := newPassword()
		if err != nil {
			return err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return fmt.Errorf("hash password of %s: %w", name, err)
		}
		users = append(users, user{name: name, hash: string(hash), perms: perms})
		if err := writeFile(filepath.Join(o.Dir, UserCredentialsFile(name)), credentials(role, name, pw, key)); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(o.Dir, UsersFile), usersConfig(users)); err != nil {
		return err
	}
	return writeFile(filepath.Join(o.Dir, ServerConfigFile), serverConfig(o))
}

// jobKey is the key Init writes: a fresh one, or, with Force, the one the
// existing files hold unless NewJobKey. New passwords must not make the
// results of every experiment running unverifiable: jobs already queued
// carry tickets derived from the key they were published under.
func (o Options) jobKey() (streams.JobKey, error) {
	if o.Force && !o.NewJobKey {
		for _, r := range streams.Roles {
			if !streams.RoleHoldsJobKey(r) {
				continue
			}
			c, err := ReadCredentials(filepath.Join(o.Dir, CredentialsFile(r)))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue
			case err != nil:
				return streams.JobKey{}, fmt.Errorf("read the job key to keep: %w (or ask for a new one)", err)
			case !c.JobKey.IsZero():
				return c.JobKey, nil
			}
		}
	}
	return streams.NewJobKey()
}

// newPassword is 32 random URL-safe characters: nothing an env file or a
// shell needs to quote.
func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeFile writes data readable by its owner only: the files hold
// passwords or their hashes.
func writeFile(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // an older tmp file kept its mode
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
