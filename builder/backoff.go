package builder

import (
	"time"

	"github.com/ejecta-build/ejecta/backoff"
)

// defaultBackoff is the retry policy for everything the builder must not
// give up on while it runs (publishing log bytes, results, fetching jobs):
// it keeps a builder waiting on a full LogsStream responsive (a purge is
// noticed within its Max) without hammering the server.
var defaultBackoff = backoff.Policy{First: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: retryJitter}

// retryJitter draws each of the builder's waits from the upper half of
// its length, d/2 to d, so that a farm of builders hitting the same full
// stream does not retry in lock-step.
var retryJitter = backoff.Jitter{Low: 0.5, High: 1}
