package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want []time.Duration // for retries 0, 1, 2, ...
	}{
		{"doubling", Policy{First: time.Second, Max: 10 * time.Second},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"by steps", Policy{First: 200 * time.Millisecond, Step: 200 * time.Millisecond, Max: time.Second},
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}},
		{"max below first", Policy{First: time.Second, Max: time.Millisecond}, []time.Duration{time.Millisecond, time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n, want := range tc.want {
				if got := tc.p.Delay(n); got != want {
					t.Errorf("Delay(%d) = %s, want %s", n, got, want)
				}
			}
		})
	}
	if got := (Policy{First: time.Second, Max: time.Hour}).Delay(1000); got != time.Hour {
		t.Errorf("Delay(1000) = %s, want the max", got)
	}
}

func TestJitter(t *testing.T) {
	for _, j := range []Jitter{{Low: 0.5, High: 1}, {Low: 0.8, High: 1.2}} {
		p := Policy{First: time.Second, Max: 10 * time.Second, Jitter: j}
		for n, want := range []time.Duration{time.Second, 2 * time.Second, 8 * time.Second, 10 * time.Second} {
			n := []int{0, 1, 3, 20}[n]
			lo, hi := time.Duration(float64(want)*j.Low), time.Duration(float64(want)*j.High)
			seen := map[time.Duration]bool{}
			for range 20 {
				got := p.Delay(n)
				seen[got] = true
				if got < lo || got > hi {
					t.Errorf("%+v: Delay(%d) = %s, want %s to %s", j, n, got, lo, hi)
				}
			}
			if len(seen) < 2 {
				t.Errorf("%+v: Delay(%d) always %v: no jitter", j, n, seen)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Sleep with an ended context: %v after %s", err, time.Since(start))
	}
}
