package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// pingKey is an object no one writes: asking for it tells whether the
// store answers without reading or writing anything of ejecta's.
const pingKey = ".ejecta-ping"

// Ping checks that st answers: it is reachable and lets us read. A
// missing object is an answer; a refused connection, a wrong credential or
// a missing directory is not.
func Ping(ctx context.Context, st Store) error {
	rc, err := st.Get(ctx, pingKey)
	switch {
	case err == nil:
		rc.Close()
		return nil
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return fmt.Errorf("store: %w", err)
}

// Refused reports whether err is the store's answer that the same request
// will get again however long one waits: wrong or missing credentials, a
// denied bucket. A component starting up waits out anything else (MinIO
// still starting, a network not up yet).
func Refused(err error) bool {
	switch errorCode(err) {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName", "AllAccessDisabled", "InvalidToken", "ExpiredToken":
		return true
	}
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrNoCredentials)
}
