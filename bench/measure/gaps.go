package measure

import (
	"slices"
	"time"
)

// Span is one piece of work on one lane (a builder slot running a task):
// when it began and when it ended.
type Span struct {
	Lane       int
	Start, End time.Time
}

// Gaps are the idle times of each lane between units of work made of
// several spans (a job of several tasks): from the end of one span to the
// start of the next on the same lane, counted only where a mark falls in
// between (the job's result), since the spans of one unit follow each other
// without one.
func Gaps(spans []Span, marks []time.Time) []time.Duration {
	byLane := map[int][]Span{}
	for _, s := range spans {
		byLane[s.Lane] = append(byLane[s.Lane], s)
	}
	var gaps []time.Duration
	for _, ss := range byLane {
		slices.SortFunc(ss, func(a, b Span) int { return a.Start.Compare(b.Start) })
		for i := 1; i < len(ss); i++ {
			prev, next := ss[i-1], ss[i]
			if slices.ContainsFunc(marks, func(m time.Time) bool { return !m.Before(prev.End) && !m.After(next.Start) }) {
				gaps = append(gaps, next.Start.Sub(prev.End))
			}
		}
	}
	return gaps
}
