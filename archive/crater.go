package archive

import (
	"context"
	"fmt"

	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// The crater view's share of a finished experiment's logs, under the
// view's root (crater/ under the experiment's prefix, or an export's
// destination), as crater's report writes them (src/report/archives.rs,
// write_logs in src/report/mod.rs):
//
//	logs-archives/all.tar.zst            every crate's logs
//	logs-archives/<comparison>.tar.zst   the logs of the crates of one comparison
//	<toolchain>/reg/<name>-<version>/log.txt
//
// Each crate contributes its first run's log on each toolchain (the latest
// attempt, the run crater's results.json names), plain bytes; confirmation
// re-runs are in ejecta's own archives only. Inside an archive a log is
// <comparison>/reg/<name>/<version>/<toolchain>.txt, so all.tar.zst and the
// comparisons' archives unpack into the same tree.

// CraterView describes the crater view's archives and log.txt copies.
type CraterView struct {
	Archives []CraterArchive `json:"archives"`
	// Logs is how many log.txt are stored, Bytes their size; Linked how
	// many of them the store copied by itself (store.ObjectCopier), no
	// byte passing through ejecta.
	Logs   int   `json:"logs"`
	Bytes  int64 `json:"bytes"`
	Linked int   `json:"linked"`
}

// CraterArchive is one archive of the crater view.
type CraterArchive struct {
	// Name is craterview.AllArchive or a comparison.
	Name string `json:"name"`
	// Key is relative to the view's root, as crater's report names it.
	Key    string `json:"key"`
	Crates int    `json:"crates"`
	Logs   int    `json:"logs"`
	// Bytes is the size of the logs, uncompressed.
	Bytes int64 `json:"bytes"`
}

// craterPlan is what goes into the crater view: each archive's entries,
// comparisons in the order of their first crate as crater's IndexMap
// keeps them, and the log.txt copies, each an Entry named by its key
// relative to the view's root.
type craterPlan struct {
	all          classArchive
	comparisons  []string
	byComparison map[string]*classArchive
	logs         []Entry
}

func newCraterPlan() *craterPlan {
	return &craterPlan{byComparison: make(map[string]*classArchive)}
}

// add takes c's first runs (validateCrate checked their names).
func (p *craterPlan) add(exp string, c *results.CrateResult) {
	comparison := c.Class.CraterName()
	entries := logEntries(exp, c, c.Results, func(tc string) string {
		return craterview.ArchiveEntry(comparison, tc, c.Name, c.Version)
	})
	ca := p.byComparison[comparison]
	if ca == nil {
		ca = &classArchive{}
		p.byComparison[comparison] = ca
		p.comparisons = append(p.comparisons, comparison)
	}
	ca.crates++
	ca.entries = append(ca.entries, entries...)
	p.all.crates++
	p.all.entries = append(p.all.entries, entries...)
	p.logs = append(p.logs, logEntries(exp, c, c.Results, func(tc string) string {
		return craterview.LogKey(tc, c.Name, c.Version)
	})...)
}

// ExportCrater writes the crater view's archives and log.txt copies of
// the finished experiment exp, whose logs are in src, under prefix in dst
// (the view's root; "" for the top of dst). Logs are streamed from src,
// checked against their metadata; nothing is written outside prefix.
func ExportCrater(ctx context.Context, src store.Store, exp string, dst store.Store, prefix string, opts Options) (*CraterView, error) {
	if err := streams.ValidateExperimentName(exp); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p, err := readPlanRetrying(ctx, src, exp, false)
	if err != nil {
		return nil, err
	}
	v, err := writeCrater(ctx, dst, prefix, src, streams.ExperimentPrefix(exp), p.crater, opts)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: crater view: %w", exp, err)
	}
	return v, nil
}

// writeCrater writes p's archives, then its log.txt copies, under
// dstPrefix in dst, reading the logs from src under srcPrefix.
func writeCrater(ctx context.Context, dst store.Store, dstPrefix string, src store.Store, srcPrefix string, p *craterPlan, opts Options) (*CraterView, error) {
	opts = opts.withDefaults()
	v := &CraterView{}
	write := func(name string, ca *classArchive) error {
		key := craterview.ArchiveKey(name)
		sum, err := WriteTo(ctx, dst, dstPrefix+key, src, srcPrefix, ca.entries, opts)
		if err != nil {
			return fmt.Errorf("%s archive: %w", name, err)
		}
		v.Archives = append(v.Archives, CraterArchive{Name: name, Key: key, Crates: ca.crates, Logs: sum.Logs, Bytes: sum.Bytes})
		return nil
	}
	if err := write(craterview.AllArchive, &p.all); err != nil {
		return nil, err
	}
	for _, c := range p.comparisons {
		if err := write(c, p.byComparison[c]); err != nil {
			return nil, err
		}
	}
	if err := copyLogs(ctx, dst, dstPrefix, src, srcPrefix, p.logs, opts, v); err != nil {
		return nil, err
	}
	return v, nil
}
