package streams

import (
	"fmt"
	"strings"
)

// Subject helpers for readers that find builds by looking at which subjects
// hold messages: `ejecta tail` and the web UI resolve "crate X of experiment
// E" to a version, toolchain and attempt this way.

// BuildLogsFilter matches the log subjects of every attempt of k.
func BuildLogsFilter(k BuildKey) string { return logsPrefix + "." + k.tokens() + ".*" }

// ParseResultSubject returns the build and attempt a result subject names.
func ParseResultSubject(subj string) (BuildKey, int, error) {
	return parseAttemptSubject(resultsPrefix, subj)
}

// IsRerunSubject reports whether subj is the subject of a confirmation
// re-run (RerunSubject).
func IsRerunSubject(subj string) bool {
	k, err := ParseJobSubject(subj)
	return err == nil && subj == RerunSubject(k)
}

// ParseJobSubject returns the build a job subject names, a first run's
// (JobSubject) or a re-run's (RerunSubject).
func ParseJobSubject(subj string) (BuildKey, error) {
	rest, ok := strings.CutPrefix(subj, jobsPrefix+".")
	if !ok {
		return BuildKey{}, fmt.Errorf("subject %q: not under %s", subj, jobsPrefix)
	}
	if strings.Count(rest, ".") == 4 {
		if rest, ok = strings.CutSuffix(rest, "."+rerunToken); !ok {
			return BuildKey{}, fmt.Errorf("subject %q: want 4 tokens after %s, or 5 ending in %s", subj, jobsPrefix, rerunToken)
		}
	}
	// A job subject is a log subject without the attempt.
	k, _, err := parseAttemptSubject(jobsPrefix, jobsPrefix+"."+rest+".1")
	if err != nil {
		return BuildKey{}, fmt.Errorf("subject %q: want 4 tokens after %s", subj, jobsPrefix)
	}
	return k, nil
}
