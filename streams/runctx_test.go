package streams

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunContext(t *testing.T) {
	type key struct{}
	parent, cancelParent := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), 50*time.Millisecond)
	defer cancelParent()
	run, cancel := RunContext(parent)
	defer cancel()
	if _, ok := run.Deadline(); ok {
		t.Error("run context has a deadline")
	}
	if run.Value(key{}) != "v" {
		t.Error("run context lost the parent's values")
	}
	select {
	case <-run.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("run context not done 5s after its parent's deadline")
	}
	if !errors.Is(context.Cause(run), context.DeadlineExceeded) {
		t.Errorf("cause %v, want the parent's deadline", context.Cause(run))
	}

	// Cancelling the run context alone leaves the parent alone.
	run2, cancel2 := RunContext(context.Background())
	cancel2()
	if run2.Err() == nil {
		t.Error("run context not cancelled by its cancel")
	}
}
