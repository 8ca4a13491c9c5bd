package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// maxRegressionsShown bounds the list on the experiment page; the rest are
// counted and in the stored report.
const maxRegressionsShown = 500

// maxCachedExperiments bounds the regression lists kept between page views.
const maxCachedExperiments = 64

// regressionClasses are the comparisons the experiment page lists.
var regressionClasses = map[results.Class]bool{
	results.ClassRegressed:         true,
	results.ClassSpuriousRegressed: true,
}

// regressions is the experiment page's list, read from the reporter's
// results.json.
type regressions struct {
	// Crates are the first maxRegressionsShown regressed crate versions in
	// results.json's order (by name, then version).
	Crates []results.CrateResult
	// Total counts every regressed crate version.
	Total int
	// Missing is set when the report has no results.json yet.
	Missing bool
}

// regressionCache keeps each experiment's list for as long as the
// reporter's progress entry says results.json has not changed: the file is
// written before that entry, so an unchanged time in the entry means an
// unchanged file, and a page refreshed every few seconds does not read a
// big results.json every time.
type regressionCache struct {
	mu sync.Mutex
	m  map[string]cachedRegressions
}

type cachedRegressions struct {
	updated time.Time
	r       regressions
}

// regressions returns experiment exp's regressions as of the report
// written at updated (the progress entry's time; zero: no report yet).
func (s *Server) regressions(ctx context.Context, exp string, updated time.Time) (regressions, error) {
	if updated.IsZero() {
		return regressions{Missing: true}, nil
	}
	c := &s.regs
	c.mu.Lock()
	if e, ok := c.m[exp]; ok && e.updated.Equal(updated) {
		c.mu.Unlock()
		return e.r, nil
	}
	c.mu.Unlock()

	r, err := readRegressions(ctx, s.st, exp)
	if err != nil {
		return r, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedRegressions{}
	}
	if _, ok := c.m[exp]; !ok && len(c.m) >= maxCachedExperiments {
		for k := range c.m { // any one: a page view reads it again
			delete(c.m, k)
			break
		}
	}
	c.m[exp] = cachedRegressions{updated: updated, r: r}
	return r, nil
}

// readRegressions streams results.json and keeps the regressions only, so
// that an experiment of many crates is not decoded into memory whole.
func readRegressions(ctx context.Context, st store.Store, exp string) (regressions, error) {
	key := results.Key(exp)
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return regressions{Missing: true}, nil
	}
	if err != nil {
		return regressions{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var out regressions
	_, err = results.Read(rc, func(c results.CrateResult, _ json.RawMessage) error {
		if !regressionClasses[c.Class] {
			return nil
		}
		out.Total++
		if len(out.Crates) < maxRegressionsShown {
			out.Crates = append(out.Crates, c)
		}
		return nil
	})
	if err != nil {
		return regressions{}, fmt.Errorf("read %s: %w", key, err)
	}
	return out, nil
}

// regressionLog is the log page of one toolchain's result of a crate.
func regressionLog(exp string, c results.CrateResult, r results.RunResult) string {
	if r.Attempt < 1 {
		return ""
	}
	return logURL(streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}, r.Attempt)
}
