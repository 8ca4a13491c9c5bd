package streams

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Limits travel in a job as readable JSON, are omitted when unset (jobs of
// experiments without limits are unchanged) and are read back exactly.
func TestJobLimitsJSON(t *testing.T) {
	for _, tt := range []struct {
		lim  Limits
		json string
	}{
		{Limits{}, ``},
		{Limits{MemoryBytes: 1536 << 20, Timeout: Duration(15 * time.Minute), NoOutputTimeout: Duration(5 * time.Minute)},
			`"memory_bytes":1610612736,"timeout":"15m0s","no_output_timeout":"5m0s"`},
	} {
		j := Job{V: 1, BuildKey: BuildKey{Experiment: "e", Crate: "c", Version: "1.0.0", Toolchain: "stable"},
			Mode: ModeCheckOnly, CrateSource: "/src", Limits: tt.lim}
		data, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		if tt.json == "" && strings.Contains(string(data), "timeout") || !strings.Contains(string(data), tt.json) {
			t.Errorf("job JSON %s, want it to contain %s", data, tt.json)
		}
		var back Job
		if err := Decode(data, &back); err != nil || back.Limits != tt.lim {
			t.Errorf("decoded limits %+v (%v), want %+v", back.Limits, err, tt.lim)
		}
	}
	if err := Decode([]byte(`{"v":1,"experiment":"e","crate":"c","version":"1.0.0","toolchain":"stable","mode":"check-only","crate_source":"/s","timeout":"soon"}`), &Job{}); err == nil || !strings.Contains(err.Error(), "duration") {
		t.Errorf("bad timeout accepted: %v", err)
	}
}
