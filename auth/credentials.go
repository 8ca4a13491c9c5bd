package auth

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Credentials are a NATS user and password.
type Credentials struct {
	User, Password string
}

// ReadCredentials reads a credentials file written by Init: lines of
// EJECTA_NATS_USER=... and EJECTA_NATS_PASSWORD=..., '#' comments and
// blank lines. Both must be present.
func ReadCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	defer f.Close()
	var c Credentials
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return Credentials{}, fmt.Errorf("credentials %s line %d: want KEY=VALUE", path, n)
		}
		switch strings.TrimSpace(key) {
		case "EJECTA_NATS_USER":
			c.User = strings.TrimSpace(val)
		case "EJECTA_NATS_PASSWORD":
			c.Password = strings.TrimSpace(val)
		}
	}
	if err := sc.Err(); err != nil {
		return Credentials{}, fmt.Errorf("read credentials %s: %w", path, err)
	}
	switch {
	case c.User == "":
		return Credentials{}, fmt.Errorf("credentials %s: no EJECTA_NATS_USER", path)
	case c.Password == "":
		return Credentials{}, fmt.Errorf("credentials %s: no EJECTA_NATS_PASSWORD", path)
	}
	return c, nil
}
