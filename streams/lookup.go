package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotEnsured says a stream or bucket is missing or is not what this
// version of ejecta expects: an admin must run `ejecta streams ensure`.
var ErrNotEnsured = errors.New("streams not ensured")

// Lookup checks that every stream and bucket Ensure creates exists with the
// subjects this version publishes to, changing nothing. Components that run
// as a role (RolePermissions) call it instead of Ensure: only the admin
// role may create or update streams.
func Lookup(ctx context.Context, js jetstream.JetStream) error {
	want := map[string][]string{
		JobsStream: {jobsPrefix + ".>"}, LogsStream: {logsPrefix + ".>"},
		UploadsStream: uploadsSubjects, ResultsStream: {resultsPrefix + ".>"},
		DeadStream: {deadPrefix + ".>"},
	}
	for _, b := range allBuckets {
		want[kvStream(b)] = []string{"$KV." + b + ".>"}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%w: stream %s does not exist; run `ejecta streams ensure` with admin credentials", ErrNotEnsured, name)
		}
		if err != nil {
			return fmt.Errorf("look up stream %s: %w", name, err)
		}
		if have := s.CachedInfo().Config.Subjects; !slices.Equal(have, want[name]) {
			return fmt.Errorf("%w: stream %s has subjects %v, want %v; run `ejecta streams ensure` with admin credentials",
				ErrNotEnsured, name, have, want[name])
		}
	}
	return nil
}
