package producer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/streams"
)

// An experiment's limits reach every job; limits out of bounds are refused
// naming the field; other limits under the same name are another experiment.
func TestCreateCarriesLimits(t *testing.T) {
	ctx, js, p := setup(t)
	src := fakeRegistry(t, "a@1.0.0")
	lim := streams.Limits{MemoryBytes: 512 << 20, Timeout: streams.Duration(20 * time.Minute), NoOutputTimeout: streams.Duration(time.Minute)}
	req := producer.Request{Name: "limited", Toolchains: []string{"stable", "nightly"}, Mode: "check-only",
		Crates: "a", CrateSource: src, Limits: lim}
	if _, err := p.Create(ctx, req); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs(ctx, t, js) {
		if j.Limits != lim {
			t.Errorf("job %s has limits %+v, want %+v", j.BuildKey, j.Limits, lim)
		}
	}
	other := req
	other.Limits.Timeout = streams.Duration(time.Hour)
	if _, err := p.Create(ctx, other); err == nil || !strings.Contains(err.Error(), "name taken") {
		t.Errorf("same name, other limits: %v, want name taken", err)
	}
	for _, tt := range []struct {
		lim  streams.Limits
		want string
	}{
		{streams.Limits{MemoryBytes: 1 << 20}, "memory_bytes"},
		{streams.Limits{Timeout: streams.Duration(time.Millisecond)}, "timeout"},
		{streams.Limits{NoOutputTimeout: streams.Duration(48 * time.Hour)}, "no_output_timeout"},
	} {
		bad := req
		bad.Name, bad.Limits = "bad-limits", tt.lim
		if _, err := p.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("limits %+v: %v, want an error naming %s", tt.lim, err, tt.want)
		}
	}
}
