package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsWithinBounds(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	for n, step := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		step *= time.Millisecond
		for range 50 {
			if d := p.Delay(n); d < step/2 || d > step {
				t.Fatalf("Delay(%d) = %s, want between %s and %s", n, d, step/2, step)
			}
		}
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	var tries []int
	calls := 0
	err := Do(context.Background(), Policy{Min: time.Millisecond, Max: 4 * time.Millisecond},
		func(context.Context) error {
			calls++
			if calls < 4 {
				return errors.New("connection refused")
			}
			return nil
		},
		func(n int, err error, _ time.Duration) { tries = append(tries, n) })
	if err != nil || calls != 4 || len(tries) != 3 || tries[2] != 3 {
		t.Fatalf("err %v after %d calls, failures reported %v; want nil after 4, [1 2 3]", err, calls, tries)
	}
}

func TestDoStopsAtPermanentError(t *testing.T) {
	denied := errors.New("authorization violation")
	calls := 0
	err := Do(context.Background(), Policy{Min: time.Millisecond, Max: time.Millisecond},
		func(context.Context) error { calls++; return Permanent(denied) }, nil)
	if err != denied || calls != 1 {
		t.Fatalf("err %v after %d calls, want the permanent error itself after 1", err, calls)
	}
}

func TestDoEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	refused := errors.New("connection refused")
	err := Do(ctx, Policy{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond},
		func(context.Context) error { return refused }, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, refused) {
		t.Fatalf("err %v, want the deadline and the last error", err)
	}
}
