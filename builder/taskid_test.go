package builder

import (
	"strconv"
	"testing"
)

// Cleanup at start-up takes exactly the builder's own task IDs: not those
// of a builder whose ID merely starts with ours.
func TestIsTaskOf(t *testing.T) {
	tests := []struct {
		id, name string
		want     bool
	}{
		{"b1", "ejecta-b1-0-1", true},
		{"b1", "ejecta-b1-12-345", true},
		{"b1", "ejecta-b10-0-1", false},
		{"b1", "ejecta-b1-x-0-1", false}, // builder b1-x's
		{"b1-x", "ejecta-b1-x-0-1", true},
		{"b1", "ejecta-b1-0", false},
		{"b1", "ejecta-b1-0-1-2", false},
		{"b1", "ejecta-b1-a-1", false},
		{"b1", "ejecta-b1--1", false},
		{"b1", "ejecta-b1-+0-1", false},
		{"b1", "b1-0-1", false},
		{"b1", "ejecta-b1-", false},
	}
	for _, tt := range tests {
		if got := isTaskOf(tt.id)(tt.name); got != tt.want {
			t.Errorf("isTaskOf(%q)(%q) = %v, want %v", tt.id, tt.name, got, tt.want)
		}
	}
	// And every ID the builder makes is its own.
	for slot, n := range map[int]uint64{0: 1, 7: 99999999999} {
		name := containerPrefix("b1") + strconv.Itoa(slot) + "-" + strconv.FormatUint(n, 10)
		if !isTaskOf("b1")(name) {
			t.Errorf("isTaskOf(b1) rejects its own task %q", name)
		}
	}
}
