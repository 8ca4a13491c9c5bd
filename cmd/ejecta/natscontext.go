package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// natsContext is a context of the stock nats CLI (`nats context save`):
// a named set of connection settings kept as JSON in
// $XDG_CONFIG_HOME/nats/context/NAME.json (~/.config/nats/... by default).
// --context NAME connects with one, as `nats --context NAME` does; the
// flags given besides it override its settings.
type natsContext struct {
	path string

	URL         string `json:"url"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Creds       string `json:"creds"`
	NKey        string `json:"nkey"`
	Token       string `json:"token"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	InboxPrefix string `json:"inbox_prefix"`
	TLSFirst    bool   `json:"tls_first"`
	JSDomain    string `json:"jetstream_domain"`
	JSAPIPrefix string `json:"jetstream_api_prefix"`

	// What a context may hold that ejecta does not do: refused by name
	// rather than connecting some other way than the context says.
	NSC        string `json:"nsc"`
	UserJWT    string `json:"user_jwt"`
	UserSeed   string `json:"user_seed"`
	SocksProxy string `json:"socks_proxy"`
	CertStore  string `json:"windows_cert_store"`
}

// natsContextDir is where the nats CLI keeps its contexts.
func natsContextDir() (string, error) {
	root := os.Getenv("XDG_CONFIG_HOME")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for ~/.config/nats: %w", err)
		}
		root = filepath.Join(home, ".config")
	}
	return filepath.Join(root, "nats", "context"), nil
}

// loadNATSContext reads context name, its paths expanded as the nats CLI
// expands them (~ and $VAR) and its secrets resolved (env://VAR).
func loadNATSContext(name string) (*natsContext, error) {
	if name == "" || strings.Contains(name, "..") || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("context name %q: want a name as 'nats context ls' lists it", name)
	}
	dir, err := natsContextDir()
	if err != nil {
		return nil, err
	}
	c := &natsContext{path: filepath.Join(dir, name+".json")}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("context %q: no %s (see 'nats context ls')", name, c.path)
	}
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("context %q: %s: %w", name, c.path, err)
	}
	for field, v := range map[string]string{"nsc": c.NSC, "user_jwt": c.UserJWT, "user_seed": c.UserSeed,
		"socks_proxy": c.SocksProxy, "windows_cert_store": c.CertStore} {
		if v != "" {
			return nil, fmt.Errorf("context %q: %s is set, which ejecta does not support; use creds (a .creds file) instead", name, field)
		}
	}
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		if *p, err = contextPath(*p); err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
	}
	for _, v := range []*string{&c.Password, &c.Token} {
		if *v, err = contextSecret(*v); err != nil {
			return nil, fmt.Errorf("context %q: %w", name, err)
		}
	}
	return c, nil
}

// contextPath is a path of a context: file:// or plain, ~ and $VAR
// expanded.
func contextPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	p = strings.TrimPrefix(p, "file://")
	if scheme, _, ok := strings.Cut(p, "://"); ok && !strings.ContainsAny(scheme, "/") {
		return "", fmt.Errorf("%s: %s:// references are not supported; give a file's path", p, scheme)
	}
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = home + p[1:]
	}
	return p, nil
}

// contextSecret is a password or token of a context: the value, or the
// variable env://VAR names.
func contextSecret(v string) (string, error) {
	if name, ok := strings.CutPrefix(v, "env://"); ok {
		s, set := os.LookupEnv(name)
		if !set {
			return "", fmt.Errorf("env://%s: the variable is not set", name)
		}
		return s, nil
	}
	for _, scheme := range []string{"op://", "nsc://", "data:", "file://"} {
		if strings.HasPrefix(v, scheme) {
			return "", fmt.Errorf("a %s secret reference is not supported; give the value or env://VAR", strings.TrimSuffix(scheme, "//"))
		}
	}
	return v, nil
}

// security is how c says to connect.
func (c *natsContext) security() streams.Security {
	return streams.Security{
		User: c.User, Password: c.Password, CredsFile: c.Creds, NKeyFile: c.NKey, Token: c.Token,
		CAFile: c.CA, CertFile: c.Cert, KeyFile: c.Key, InboxPrefix: c.InboxPrefix, TLSFirst: c.TLSFirst,
	}
}

// secretFiles are c's files no build may read: itself (it may hold a
// password or a token), its creds, nkey and TLS key.
func (c *natsContext) secretFiles() []string {
	return []string{c.path, c.Creds, c.NKey, c.Key}
}
