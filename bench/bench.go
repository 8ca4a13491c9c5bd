package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Bench is one benchmark: it measures its figures and their baselines and
// returns its rows. At full sizes (make bench) rows are judged; otherwise
// sizes are tiny and rows are marked Smoke.
type Bench struct {
	Name  string
	About string
	Run   func(t testing.TB, full bool) []Row
}

// All is every benchmark, in the order of the table: the default set, then
// those that run alone.
func All() []Bench { return append(Default(), Alone()...) }

// Alone is the benchmarks that run only when named (BENCH=name): too long
// for the default set, for CI and for BENCHMARKS.md's table.
func Alone() []Bench {
	return []Bench{
		{"scale", "crater's size, run only when named: 1.4M jobs produced, 1.4M results reported", Scale},
		{"scale-report", "crater's size, the reporter's rows alone: 1.4M results reported, in a burst and with the last ones at a trickle", ScaleReport},
	}
}

// Default is what `make bench` runs without BENCH, in the order of the
// table.
func Default() []Bench {
	return []Bench{
		{"logs", "log throughput, builder to store", Logs},
		{"rss", "uploader peak memory", RSS},
		{"pool", "pooled versus serial upload", Pool},
		{"report", "report lag, reporter CPU per result, a restarted reporter catching up", Report},
		{"tail", "live tail latency", Tail},
		{"sandbox", "sandbox overhead per job", Sandbox},
		{"attempt", "an attempt's steps: one sandbox versus a task each", Attempt},
		{"slotgap", "slot idle gap between jobs", SlotGap},
		{"cores", "shared versus pinned cores, two slots", Cores},
		{"produce", "experiment create: jobs published per second", Produce},
		{"jobs", "no-op job throughput", Jobs},
		{"scaling", "uploader replicas against MinIO", Scaling},
		{"grep", "ejecta grep against zstdcat | grep", Grep},
		{"crates", "a real check-only experiment against a plain cargo loop", Crates},
		{"crates-test", "a real build-and-test experiment against a plain cargo loop", CratesTest},
	}
}

// Select returns the benchmarks named in a comma-separated list, the
// default set for "", or an error naming an unknown one.
func Select(names string) ([]Bench, error) {
	if strings.TrimSpace(names) == "" {
		return Default(), nil
	}
	all := All()
	var out []Bench
	for n := range strings.SplitSeq(names, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(all, func(b Bench) bool { return b.Name == n })
		if i < 0 {
			var known []string
			for _, b := range all {
				known = append(known, b.Name)
			}
			return nil, fmt.Errorf("BENCH: unknown benchmark %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}
