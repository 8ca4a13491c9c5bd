package builder

import (
	"strconv"
	"strings"
)

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
