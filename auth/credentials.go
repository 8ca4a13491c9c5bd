package auth

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/ejecta-build/ejecta/streams"
)

// JobKeyEnv is the variable that holds the job key (streams.JobKey), in
// base64, in the environment and in the credentials files of the roles
// that hold it.
const JobKeyEnv = "EJECTA_JOB_KEY"

// Credentials are a NATS user and password, and the job key of a role
// that holds one.
type Credentials struct {
	User, Password string
	// JobKey is zero in the files of builders and viewers.
	JobKey streams.JobKey
}

// ReadCredentials reads a credentials file written by Init: lines of
// EJECTA_NATS_USER=..., EJECTA_NATS_PASSWORD=... and, for the roles that
// hold it, EJECTA_JOB_KEY=...; '#' comments and blank lines. User and
// password must be present.
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
		case JobKeyEnv:
			k, err := streams.ParseJobKey(val)
			if err != nil {
				return Credentials{}, fmt.Errorf("credentials %s line %d: %s: %w", path, n, JobKeyEnv, err)
			}
			c.JobKey = k
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
