package measure

import (
	"slices"
	"time"
)

// Span is one piece of work on one lane (a builder slot running a task):
// when it began and when it ended, and the unit of work it is part of (the
// job, named by its job dir).
type Span struct {
	Lane       int
	Unit       string
	Start, End time.Time
}

// Gaps are the idle times of each lane between units of work made of
// several spans (a job of several tasks): from the end of one span to the
// start of the next on the same lane, where the next is another unit's.
// The unit tells, not the unit's end (its result): a builder finishes a
// job while its slot starts the next one.
func Gaps(spans []Span) []time.Duration {
	byLane := map[int][]Span{}
	for _, s := range spans {
		byLane[s.Lane] = append(byLane[s.Lane], s)
	}
	var gaps []time.Duration
	for _, ss := range byLane {
		slices.SortFunc(ss, func(a, b Span) int { return a.Start.Compare(b.Start) })
		for i := 1; i < len(ss); i++ {
			if prev, next := ss[i-1], ss[i]; next.Unit != prev.Unit {
				gaps = append(gaps, next.Start.Sub(prev.End))
			}
		}
	}
	return gaps
}
