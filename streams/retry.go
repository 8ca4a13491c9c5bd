package streams

import "strconv"

// Attempt numbers encode which run of a build an attempt belongs to:
//
//	attempt - 1 = generation*RetryStride + round*RerunStride + (delivery - 1)
//
// Generation 0 is the build as the experiment was created; `experiment
// retry` starts generation g (1, 2, ...), whose results replace every
// earlier generation's in the report. Round 0 is a generation's own run,
// rounds 1 to MaxRerunRound its confirmation re-runs. So attempt 3 is the
// third delivery of the first run, 1001 the first re-run of it, 10001 the
// first retry and 11001 that retry's first confirmation re-run. Every
// attempt keeps its own number, log subject and stored log.
const RetryStride = (MaxRerunRound + 1) * RerunStride

// MaxRetry bounds the retries of one build.
const MaxRetry = 99

// RetryAttemptBase is the Job.AttemptBase of retry generation gen (0: the
// first run).
func RetryAttemptBase(gen int) int { return gen * RetryStride }

// AttemptBase is the Job.AttemptBase of confirmation re-run round of
// retry generation gen.
func AttemptBase(gen, round int) int { return RetryAttemptBase(gen) + RerunAttemptBase(round) }

// AttemptGeneration is the retry generation an attempt belongs to.
func AttemptGeneration(attempt int) int {
	if attempt < 1 {
		return 0
	}
	return (attempt - 1) / RetryStride
}

// RetryMsgID is the Nats-Msg-Id of generation gen's job of k: asking for
// the same retry twice within the duplicate window queues it once.
func RetryMsgID(k BuildKey, gen int) string {
	return JobSubject(k) + "#retry-" + strconv.Itoa(gen)
}
