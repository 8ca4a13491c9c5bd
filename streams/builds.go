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

// ParseResultSubject returns the build, attempt and sender a result
// subject names (ResultSubject). A subject of an earlier version, without
// a sender, gives the sender "": only builders of that version, or an
// admin, can have published there.
func ParseResultSubject(subj string) (k BuildKey, attempt int, sender string, err error) {
	if strings.Count(subj, ".") == strings.Count(resultsPrefix, ".")+6 {
		i := strings.LastIndexByte(subj, '.')
		subj, sender = subj[:i], subj[i+1:]
		if err := validateSender(sender); err != nil {
			return BuildKey{}, 0, "", fmt.Errorf("subject %q: %w", subj+"."+sender, err)
		}
	}
	k, attempt, err = parseAttemptSubject(resultsPrefix, subj)
	return k, attempt, sender, err
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
