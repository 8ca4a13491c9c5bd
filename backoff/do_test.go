package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestStartupDelayGrowsWithinBounds(t *testing.T) {
	for n, step := range []time.Duration{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000} {
		step *= time.Millisecond
		for range 50 {
			if d := Startup.Delay(n); d < step/2 || d > step {
				t.Fatalf("Delay(%d) = %s, want between %s and %s", n, d, step/2, step)
			}
		}
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	var tries []int
	calls := 0
	err := Do(context.Background(), Policy{First: time.Millisecond, Max: 4 * time.Millisecond},
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
	err := Do(context.Background(), Policy{First: time.Millisecond, Max: time.Millisecond},
		func(context.Context) error { calls++; return Permanent(denied) }, nil)
	if err != denied || calls != 1 {
		t.Fatalf("err %v after %d calls, want the permanent error itself after 1", err, calls)
	}
}

func TestDoEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	refused := errors.New("connection refused")
	err := Do(ctx, Policy{First: 10 * time.Millisecond, Max: 10 * time.Millisecond},
		func(context.Context) error { return refused }, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, refused) {
		t.Fatalf("err %v, want the deadline and the last error", err)
	}
}
