package streams

import (
	"strings"
	"testing"
)

func TestAttemptRound(t *testing.T) {
	for _, tt := range []struct{ attempt, round int }{
		{0, 0}, {1, 0}, {4, 0}, {RerunStride, 0}, {RerunStride + 1, 1}, {2*RerunStride + 3, 2},
	} {
		if got := AttemptRound(tt.attempt); got != tt.round {
			t.Errorf("AttemptRound(%d) = %d, want %d", tt.attempt, got, tt.round)
		}
	}
	if got := AttemptRound(AttemptBase(2, 3) + 1); got != 3 || AttemptGeneration(AttemptBase(2, 3)+1) != 2 {
		t.Errorf("first attempt of round 3 is in round %d", got)
	}
}

func TestJobAttemptBase(t *testing.T) {
	for _, tt := range []struct {
		base    int
		wantErr bool
	}{
		{0, false}, {RerunStride, false}, {RerunAttemptBase(MaxRerunRound), false},
		{-RerunStride, true}, {1, true}, {RerunStride + 7, true}, {RetryAttemptBase(1), false}, {AttemptBase(MaxRetry, MaxRerunRound), false}, {RetryAttemptBase(MaxRetry + 1), true},
	} {
		j := Job{V: SchemaVersion, BuildKey: BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"},
			Mode: ModeCheckOnly, CrateSource: "/src", AttemptBase: tt.base}
		err := j.Validate()
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "attempt_base")) {
			t.Errorf("AttemptBase %d: Validate() = %v, want error %v naming attempt_base", tt.base, err, tt.wantErr)
		}
	}
}
