package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// maxRegressionsShown bounds the list on the experiment page; the rest are
// counted and in the stored report.
const maxRegressionsShown = 500

// maxCachedExperiments bounds the regression lists kept between page views.
const maxCachedExperiments = 64

// regressionClasses are the comparisons the experiment page lists.
var regressionClasses = map[reporter.Class]bool{
	reporter.ClassRegressed:         true,
	reporter.ClassSpuriousRegressed: true,
}

// regressions is the experiment page's list, read from the reporter's
// results.json.
type regressions struct {
	// Crates are the first maxRegressionsShown regressed crate versions in
	// results.json's order (by name, then version).
	Crates []reporter.CrateResult
	// Total counts every regressed crate version.
	Total int
	// Missing is set when the report has no results.json yet.
	Missing bool
}

// regressionCache keeps each experiment's list for as long as the
// reporter's progress entry says the report has not changed: results.json
// is written before that entry, so an unchanged entry means an unchanged
// file, and a page refreshed every few seconds does not read a big
// results.json every time.
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
	key := reporter.ResultsKey(exp)
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return regressions{Missing: true}, nil
	}
	if err != nil {
		return regressions{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var out regressions
	err = eachCrate(rc, func(c reporter.CrateResult) {
		if !regressionClasses[c.Class] {
			return
		}
		out.Total++
		if len(out.Crates) < maxRegressionsShown {
			out.Crates = append(out.Crates, c)
		}
	})
	if err != nil {
		return regressions{}, fmt.Errorf("read %s: %w", key, err)
	}
	return out, nil
}

// eachCrate calls fn with every entry of the "crates" array of a
// results.json read from r, one at a time; other fields are skipped.
func eachCrate(r io.Reader, fn func(reporter.CrateResult)) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if tok != "crates" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return fmt.Errorf("crates: %w", err)
		}
		for dec.More() {
			var c reporter.CrateResult
			if err := dec.Decode(&c); err != nil {
				return fmt.Errorf("crates: %w", err)
			}
			fn(c)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return fmt.Errorf("crates: %w", err)
		}
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

// regressionLog is the log page of one toolchain's result of a crate.
func regressionLog(exp string, c reporter.CrateResult, r reporter.RunResult) string {
	if r.Attempt < 1 {
		return ""
	}
	return logURL(streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}, r.Attempt)
}
