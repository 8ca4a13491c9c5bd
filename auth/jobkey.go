package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ejecta-build/ejecta/streams"
)

// JobKeyFile is where `ejecta up` keeps its job key under its data
// directory, so that a restart still checks the results of jobs published
// before it.
const JobKeyFile = "job.key"

// LoadOrCreateJobKey reads the job key kept at path, or writes a fresh one
// there (mode 0600) if there is none. created says which.
func LoadOrCreateJobKey(path string) (key streams.JobKey, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := streams.ParseJobKey(string(data))
		if err != nil {
			return streams.JobKey{}, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return streams.JobKey{}, false, fmt.Errorf("read job key: %w", err)
	}
	if key, err = streams.NewJobKey(); err != nil {
		return streams.JobKey{}, false, err
	}
	// O_EXCL: two processes starting on the same directory keep one key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateJobKey(path)
	}
	if err != nil {
		return streams.JobKey{}, false, fmt.Errorf("write job key: %w", err)
	}
	_, err = f.WriteString(key.Encode() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return streams.JobKey{}, false, fmt.Errorf("write job key %s: %w", path, err)
	}
	return key, true, nil
}
