package builder

import (
	"runtime"
	"strconv"
	"strings"
)

// containerPrefix starts every sandbox task ID of builder id.
func containerPrefix(id string) string { return "ejecta-" + id + "-" }

// taskID names a new sandbox task of the attempt's slot: unique within the
// builder's life, and recognisable as its own after a crash (isTaskOf).
func (a *attempt) taskID() string {
	return containerPrefix(a.b.cfg.ID) + strconv.Itoa(a.slot) + "-" + strconv.FormatUint(a.b.tasks.Add(1), 10)
}

// cpus is the cpuset of the slot's builds: "" (every CPU, shared) unless
// the builder pins them, then one CPU per slot, distinct while slots <=
// CPUs.
func (a *attempt) cpus() string {
	if !a.b.cfg.PinCores {
		return ""
	}
	return strconv.Itoa(a.slot % runtime.NumCPU())
}

// cpuText says what CPU the slot's builds get, for the sandbox line of
// their logs: "cpu 1 (pinned)", "cpu shared (all 2 cores, weight 100)".
func (a *attempt) cpuText() string {
	weight := ""
	if w := a.b.cpuWeight(); w > 0 {
		weight = ", weight " + strconv.FormatUint(w, 10)
	}
	if c := a.cpus(); c != "" {
		return "cpu " + c + " (pinned" + weight + ")"
	}
	return "cpu shared (all " + strconv.Itoa(runtime.NumCPU()) + " cores" + weight + ")"
}

// isTaskOf returns whether a sandbox task ID (also its container, snapshot
// and FIFO dir name) was made by builder id: containerPrefix(id), then
// exactly "<slot>-<task number>". A prefix test alone would be wrong:
// builder IDs may contain '-', so "ejecta-b1-x-0-3" is task 3 of builder
// "b1-x", which builder "b1" must leave alone.
func isTaskOf(id string) func(string) bool {
	prefix := containerPrefix(id)
	return func(name string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return false
		}
		slot, n, ok := strings.Cut(rest, "-")
		return ok && isDecimal(slot) && isDecimal(n)
	}
}

// isDecimal reports whether s is a non-empty run of ASCII digits.
func isDecimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil && !strings.HasPrefix(s, "+")
}
