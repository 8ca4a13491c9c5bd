package streams

import "fmt"

// RerunStride separates the attempt numbers of a build's runs: the first run
// of a job numbers its attempts 1, 2, ... (JetStream's delivery count), and
// confirmation re-run r numbers them r*RerunStride+1, r*RerunStride+2, ...
// A job's AttemptBase says which run it is. Every attempt thus has its own
// number, log subject and log object, and a reader tells runs apart by
// AttemptRound. The stride is far above any MaxDeliver a builders consumer
// is given.
const RerunStride = 1000

// MaxRerunRound bounds the re-runs of one build.
const MaxRerunRound = 9

// RerunAttemptBase is the Job.AttemptBase of re-run round (0 is the first run).
func RerunAttemptBase(round int) int { return round * RerunStride }

// AttemptRound is the run an attempt number belongs to within its retry
// generation (retry.go): 0 for the generation's own run, r for re-run r.
func AttemptRound(attempt int) int {
	if attempt < 1 {
		return 0
	}
	return (attempt - 1) % RetryStride / RerunStride
}

// validateAttemptBase checks a Job's AttemptBase.
func validateAttemptBase(base int) error {
	if base < 0 || base%RerunStride != 0 || base/RetryStride > MaxRetry {
		return fmt.Errorf("job: attempt_base %d: want a multiple of %d from 0 to %d",
			base, RerunStride, AttemptBase(MaxRetry, MaxRerunRound))
	}
	return nil
}

// BuildResultsFilter matches the result subjects of every attempt of k,
// from every sender.
func BuildResultsFilter(k BuildKey) string { return resultsPrefix + "." + k.tokens() + ".>" }
