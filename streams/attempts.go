package streams

// JobAttempts is how many attempts a job gets under a builders consumer
// whose MaxDeliver is maxDeliver: Ensure sets MaxDeliver one above
// Config.JobMaxDeliver, so that the extra delivery reaches a builder that
// records the job as given up (see builder) rather than JetStream dropping
// it without a trace. 0 means no limit.
func JobAttempts(maxDeliver int) int {
	if maxDeliver <= 1 {
		return 0
	}
	return maxDeliver - 1
}
