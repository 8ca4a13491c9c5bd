package measure

import (
	"slices"
	"testing"
	"time"
)

func TestGaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	span := func(lane int, job string, from, to int) Span {
		return Span{Lane: lane, Unit: job, Start: at(from), End: at(to)}
	}
	// Lane 0: job A (two tasks), job B from 250.
	// Lane 1: job C (one task), job D from 400.
	spans := []Span{span(0, "B", 250, 300), span(0, "A", 0, 100), span(0, "A", 120, 200), span(1, "C", 0, 120), span(1, "D", 400, 500)}
	got := Gaps(spans)
	slices.Sort(got)
	want := []time.Duration{50 * time.Millisecond, 280 * time.Millisecond}
	if !slices.Equal(got, want) {
		t.Errorf("Gaps = %v, want %v (the 20ms between job A's tasks is not a gap)", got, want)
	}
}
