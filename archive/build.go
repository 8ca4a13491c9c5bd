package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/craterview"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// The log archives of an experiment, under its prefix:
//
//	logs-archives/<class>.tar.zst   every log of the crates of one class
//	logs-archives/manifest.json     Manifest, written last
//
// Inside an archive, each crate version of the class has a directory with
// the log of the latest attempt of each toolchain, and of each
// confirmation re-run, as the task wrote it:
//
//	<class>/<crate>-<version>/<toolchain>.log
//	<class>/<crate>-<version>/rerun-<round>/<toolchain>.log
//
// so that unpacking every archive of an experiment in one directory gives
// one tree, a directory per class, as crater's archives do.
const manifestName = "logs-archives/manifest.json"

// ManifestKey is the object key of experiment exp's archive manifest.
func ManifestKey(exp string) string {
	return streams.ExperimentPrefix(exp) + manifestName
}

// ManifestVersion is the "v" of Manifest.
const ManifestVersion = 1

// Manifest describes the log archives of an experiment. It is written
// after every archive, so its presence means they are complete.
type Manifest struct {
	V          int    `json:"v"`
	Experiment string `json:"experiment"`
	// CratesSHA256 identifies the crates of the results.json the archives
	// were built from: a reporter finding the same value builds nothing.
	CratesSHA256 string         `json:"crates_sha256"`
	Archives     []ClassArchive `json:"archives"`
	// Crater is the crater view's archives and log.txt copies, under
	// crater/; nil in a manifest written before they existed.
	Crater *CraterView `json:"crater,omitempty"`
	Built  time.Time   `json:"built"`
}

// ClassArchive is the archive of one class.
type ClassArchive struct {
	Class results.Class `json:"class"`
	// Key is relative to the experiment's prefix, like the links of
	// results.json.
	Key    string `json:"key"`
	Crates int    `json:"crates"`
	Logs   int    `json:"logs"`
	// Bytes is the size of the logs, uncompressed.
	Bytes int64 `json:"bytes"`
}

// BuildOptions tune Build.
type BuildOptions struct {
	Options
	// Force rebuilds the archives even when the manifest says they were
	// built from the same results.
	Force bool
}

// Errors Build returns (wrapped, naming the experiment) for a request it
// cannot satisfy.
var (
	ErrUnknownExperiment = errors.New("unknown experiment")
	ErrNotFinished       = errors.New("experiment not finished")
)

// Build (re)builds the log archives of experiment exp from its
// results.json in st, one per class with crates, then those of its crater
// view and its log.txt copies (crater.go), then the manifest. The
// experiment must be finished: every build has a result and every
// regression its confirmation re-runs. Unless opts.Force is set, nothing is
// rebuilt when the manifest already matches the results. Each archive
// replaces the previous object of its class.
func Build(ctx context.Context, st store.Store, exp string, opts BuildOptions) (*Manifest, error) {
	if err := streams.ValidateExperimentName(exp); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p, err := readPlanRetrying(ctx, st, exp, true)
	if err != nil {
		return nil, err
	}
	if !opts.Force {
		old, err := ReadManifest(ctx, st, exp)
		if err == nil && old.CratesSHA256 == p.hash && old.Crater != nil {
			return old, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	m := &Manifest{V: ManifestVersion, Experiment: exp, CratesSHA256: p.hash}
	prefix := streams.ExperimentPrefix(exp)
	for _, c := range results.Classes {
		ca := p.classes[c]
		if ca == nil {
			continue
		}
		sum, err := Write(ctx, st, prefix, prefix+streams.ArchiveKey(string(c)), ca.entries, opts.Options)
		if err != nil {
			return nil, fmt.Errorf("experiment %s: %s archive: %w", exp, c, err)
		}
		m.Archives = append(m.Archives, ClassArchive{Class: c, Key: streams.ArchiveKey(string(c)),
			Crates: ca.crates, Logs: sum.Logs, Bytes: sum.Bytes})
	}
	if m.Crater, err = writeCrater(ctx, st, prefix+craterview.Dir, st, prefix, p.crater, opts.Options); err != nil {
		return nil, fmt.Errorf("experiment %s: crater view: %w", exp, err)
	}
	m.Built = time.Now().UTC()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode archive manifest of %s: %w", exp, err)
	}
	data = append(data, '\n')
	if err := st.Put(ctx, ManifestKey(exp), bytes.NewReader(data), int64(len(data)), "application/json"); err != nil {
		return nil, fmt.Errorf("store archive manifest of %s: %w", exp, err)
	}
	return m, nil
}

// ReadManifest reads experiment exp's archive manifest; an error
// wrapping store.ErrNotFound if there is none.
func ReadManifest(ctx context.Context, st store.Store, exp string) (*Manifest, error) {
	rc, err := st.Get(ctx, ManifestKey(exp))
	if err != nil {
		return nil, fmt.Errorf("read archive manifest of %s: %w", exp, err)
	}
	defer rc.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("read archive manifest %s: %w", st.Location(ManifestKey(exp)), err)
	}
	return &m, nil
}

// classArchive is what goes into one class's archive.
type classArchive struct {
	crates  int
	entries []Entry
}

// resultsReads is how many times results.json is read before giving up:
// the reporter may be rewriting it, and on S3 a read that overlaps a
// rewrite fails (the object changed under it).
const resultsReads = 4

// resultsBackoff spaces those reads: 200ms, 400ms, 600ms.
var resultsBackoff = backoff.Policy{First: 200 * time.Millisecond, Step: 200 * time.Millisecond, Max: time.Second}

// plan is what goes into the archives of an experiment, from one read of
// its results.json.
type plan struct {
	// hash identifies the crates (Manifest.CratesSHA256).
	hash string
	// classes are ejecta's archives; nil unless asked for.
	classes map[results.Class]*classArchive
	crater  *craterPlan
}

func readPlanRetrying(ctx context.Context, st store.Store, exp string, ejecta bool) (*plan, error) {
	for i := 1; ; i++ {
		p, err := readPlan(ctx, st, exp, ejecta)
		if err == nil || i == resultsReads || errors.Is(err, ErrUnknownExperiment) || errors.Is(err, ErrNotFinished) {
			return p, err
		}
		if backoff.Sleep(ctx, resultsBackoff.Delay(i-1)) != nil {
			return nil, ctx.Err()
		}
	}
}

// readPlan reads results.json of exp, crate by crate without holding the
// file, and returns the entries of the crater view's archives and log.txt
// copies, with ejecta's own archives' if ejecta is set. It refuses an
// experiment that is not finished.
func readPlan(ctx context.Context, st store.Store, exp string, ejecta bool) (*plan, error) {
	key := results.Key(exp)
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("experiment %q: no results.json at %s: %w", exp, st.Location(key), ErrUnknownExperiment)
	}
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", exp, err)
	}
	defer rc.Close()
	var (
		p          = &plan{crater: newCraterPlan()}
		pending    int
		confirming int
		h          = sha256.New()
	)
	if ejecta {
		p.classes = make(map[results.Class]*classArchive)
	}
	head, err := results.Read(rc, func(c results.CrateResult, raw json.RawMessage) error {
		h.Write(raw)
		switch {
		case c.Class == results.ClassPending:
			pending++
			return nil
		case c.Confirmation == results.ConfirmationPending:
			confirming++
			return nil
		}
		if err := validateCrate(&c); err != nil {
			return err
		}
		p.crater.add(exp, &c)
		if p.classes == nil {
			return nil
		}
		ca := p.classes[c.Class]
		if ca == nil {
			ca = &classArchive{}
			p.classes[c.Class] = ca
		}
		ca.crates++
		ca.entries = append(ca.entries, crateEntries(exp, &c)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", st.Location(key), err)
	}
	if head.Experiment != exp {
		return nil, fmt.Errorf("read %s: names experiment %q", st.Location(key), head.Experiment)
	}
	if head.TotalJobs == 0 || head.DoneJobs < head.TotalJobs || pending > 0 || confirming > 0 {
		return nil, fmt.Errorf("experiment %s: %d of %d builds done, %d crates waiting for a result, %d regressions waiting for confirmation: %w",
			exp, head.DoneJobs, head.TotalJobs, pending, confirming, ErrNotFinished)
	}
	p.hash = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

// validateCrate checks the names of c that go into keys and entry names:
// the crate's, its version's, and the toolchain of each result.
func validateCrate(c *results.CrateResult) error {
	if err := streams.ValidateCrateName(c.Name); err != nil {
		return err
	}
	if err := streams.ValidateVersion(c.Version); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	for _, rs := range append([][]results.RunResult{c.Results}, c.Reruns...) {
		for _, r := range rs {
			if err := streams.ValidateToolchain(r.Toolchain); err != nil {
				return fmt.Errorf("%s@%s: %w", c.Name, c.Version, err)
			}
		}
	}
	return nil
}

// crateEntries are the entries of c's logs in ejecta's archives
// (validateCrate checked their names): the latest attempt of each
// toolchain, then each confirmation re-run.
func crateEntries(exp string, c *results.CrateResult) []Entry {
	dir := string(c.Class) + "/" + c.Name + "-" + c.Version + "/"
	out := logEntries(exp, c, c.Results, func(tc string) string { return dir + tc + ".log" })
	for i, rs := range c.Reruns {
		sub := dir + "rerun-" + strconv.Itoa(i+1) + "/"
		out = append(out, logEntries(exp, c, rs, func(tc string) string { return sub + tc + ".log" })...)
	}
	return out
}

// logEntries are the entries of the logs of runs rs of c, each named by
// name from its toolchain. Results that name no stored log are left out.
func logEntries(exp string, c *results.CrateResult, rs []results.RunResult, name func(tc string) string) []Entry {
	var out []Entry
	for _, r := range rs {
		if r.Log == "" {
			continue
		}
		k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
		out = append(out, Entry{Name: name(r.Toolchain), Meta: streams.LogMetaKey(k, r.Attempt)})
	}
	return out
}
