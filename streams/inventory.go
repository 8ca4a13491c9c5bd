package streams

// Streams lists every stream Ensure creates, for tools that watch them all
// (the metrics collector) without spelling their names.
func Streams() []string {
	return []string{JobsStream, LogsStream, UploadsStream, ResultsStream, DeadStream}
}

// Buckets lists every KV bucket Ensure creates.
func Buckets() []string {
	return []string{ExperimentsBucket, BuildersBucket, ProgressBucket}
}
