package logsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// MaxLinesPerLog bounds the lines one log contributes to the output,
// context included; Log.Truncated says a log had more.
const MaxLinesPerLog = 1000

// maxDecoderWindow bounds a decoder's memory: the uploader compresses with
// a 1 MiB window, and a log needing more than this is not read.
const maxDecoderWindow = 8 << 20

// Query is what Search looks for, and where.
type Query struct {
	// Pattern is matched against each line, without its escape sequences.
	Pattern *regexp.Regexp
	// Toolchains and Crates narrow the logs searched; empty: all. Builds,
	// when not nil, says which other builds may be searched, e.g. those of
	// the crates of some classes.
	Toolchains []string
	Crates     []string
	Builds     func(streams.BuildKey) bool
	// Context is how many lines around each match are shown too.
	Context int
	// FirstOnly stops reading a log at its first match (`-l`).
	FirstOnly bool
	// Parallel is how many logs are read at once; 0: the number of CPUs.
	Parallel int
}

// Log is one attempt's log, as Search found it.
type Log struct {
	streams.BuildKey
	Attempt int `json:"attempt"`
	// Live is set for a build still running: its log was read from the
	// stream, as far as it went.
	Live bool `json:"live,omitempty"`
}

// Hits are the lines of one log that Search shows: matches, and context
// around them.
type Hits struct {
	Log
	Lines []Line
	// Truncated is set when the log had more than MaxLinesPerLog lines to
	// show; the first ones are here.
	Truncated bool
}

// Line is one line of a log.
type Line struct {
	Number int    `json:"line"`
	Text   string `json:"text"`
	// Match is false for a context line.
	Match bool `json:"match"`
}

// Stats is what a search read.
type Stats struct {
	Logs, Matched int
	Bytes         int64
}

// Store is what Search reads stored logs from.
type Store interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	List(ctx context.Context, prefix string) iter.Seq2[store.Object, error]
}

// Live reads the logs of builds still running, from the stream.
type Live interface {
	// Logs lists the attempts of exp whose log is on the stream.
	Logs(ctx context.Context, exp string) ([]Log, error)
	// Copy writes what the stream holds of an attempt's log to w.
	Copy(ctx context.Context, l Log, w io.Writer) error
}

// Search reads every log of experiment exp that q selects, from st and,
// when live is not nil, from the stream for builds not stored yet, and
// calls emit once per log with lines to show, from one goroutine at a
// time, in no promised order. It stops at the first error, emit's
// included.
func Search(ctx context.Context, st Store, live Live, exp string, q Query, emit func(Hits) error) (Stats, error) {
	if q.Pattern == nil {
		return Stats{}, errors.New("search: no pattern")
	}
	if q.Context < 0 {
		return Stats{}, fmt.Errorf("search: context %d: want 0 or more", q.Context)
	}
	par := q.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	var stats Stats
	var bytes atomic.Int64
	var mu sync.Mutex // emit, and stats
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	workers := sync.Pool{New: func() any { return newWorker(q) }}
	run := func(l Log, open func(context.Context) (io.ReadCloser, error)) {
		g.Go(func() error {
			w := workers.Get().(*worker)
			defer workers.Put(w)
			h, n, err := w.search(gctx, l, open)
			bytes.Add(n)
			if err != nil {
				return fmt.Errorf("search %s attempt %d: %w", l.BuildKey, l.Attempt, err)
			}
			mu.Lock()
			defer mu.Unlock()
			stats.Logs++
			if len(h.Lines) == 0 {
				return nil
			}
			stats.Matched++
			return emit(h)
		})
	}
	stored := map[Log]bool{}
	for l, err := range storedLogs(gctx, st, exp, q) {
		if err != nil {
			g.Go(func() error { return err })
			break
		}
		stored[l] = true
		run(l, func(ctx context.Context) (io.ReadCloser, error) {
			return st.Get(ctx, streams.ExperimentPrefix(exp)+streams.LogRawKey(l.BuildKey, l.Attempt))
		})
	}
	if live != nil && gctx.Err() == nil {
		logs, err := live.Logs(gctx, exp)
		if err != nil {
			g.Go(func() error { return fmt.Errorf("search the live logs of %s: %w", exp, err) })
		}
		for _, l := range logs {
			l.Live = false
			if stored[l] || !q.selects(l.BuildKey) {
				continue
			}
			l.Live = true
			run(l, func(ctx context.Context) (io.ReadCloser, error) { return livePipe(ctx, live, l), nil })
		}
	}
	err := g.Wait()
	stats.Bytes = bytes.Load()
	if err != nil {
		return stats, err
	}
	return stats, ctx.Err()
}

// selects reports whether q searches the logs of build k.
func (q *Query) selects(k streams.BuildKey) bool {
	return (len(q.Toolchains) == 0 || slices.Contains(q.Toolchains, k.Toolchain)) &&
		(len(q.Crates) == 0 || slices.Contains(q.Crates, k.Crate)) &&
		(q.Builds == nil || q.Builds(k))
}

// storedLogs lists the stored logs of exp that q selects: the attempts
// whose compressed log and metadata are both stored (the metadata is
// written last, so the log is complete).
func storedLogs(ctx context.Context, st Store, exp string, q Query) iter.Seq2[Log, error] {
	return func(yield func(Log, error) bool) {
		prefixes := []string{streams.ExperimentPrefix(exp) + streams.LogsPrefix}
		if len(q.Toolchains) > 0 {
			prefixes = prefixes[:0]
			for _, tc := range q.Toolchains {
				prefixes = append(prefixes, streams.ExperimentPrefix(exp)+streams.LogsPrefix+streams.EscapeToken(tc)+"/")
			}
		}
		type parts struct{ meta, raw bool }
		found := map[Log]*parts{}
		var order []Log
		for _, prefix := range prefixes {
			for obj, err := range st.List(ctx, prefix) {
				if err != nil {
					yield(Log{}, fmt.Errorf("list the logs of %s: %w", exp, err))
					return
				}
				l, kind, ok := parseLogKey(exp, strings.TrimPrefix(obj.Key, streams.ExperimentPrefix(exp)))
				if !ok || kind == "" || !q.selects(l.BuildKey) {
					continue
				}
				p := found[l]
				if p == nil {
					p = &parts{}
					found[l] = p
					order = append(order, l)
				}
				if kind == "meta" {
					p.meta = true
				} else {
					p.raw = true
				}
			}
		}
		for _, l := range order {
			if p := found[l]; p.meta && p.raw {
				if !yield(l, nil) {
					return
				}
			}
		}
	}
}

// parseLogKey takes apart a key relative to the experiment's prefix
// (streams.LogRawKey, streams.LogMetaKey): its log, and "raw" or "meta",
// or "" for another object of the log.
func parseLogKey(exp, key string) (Log, string, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] != "logs" {
		return Log{}, "", false
	}
	var vals [3]string
	for i := range vals {
		v, err := streams.UnescapeToken(parts[i+1])
		if err != nil {
			return Log{}, "", false
		}
		vals[i] = v
	}
	name, kind := parts[4], ""
	switch {
	case strings.HasSuffix(name, ".log.zst"):
		name, kind = strings.TrimSuffix(name, ".log.zst"), "raw"
	case strings.HasSuffix(name, ".json"):
		name, kind = strings.TrimSuffix(name, ".json"), "meta"
	default:
		name = name[:max(0, strings.IndexByte(name, '.'))]
	}
	attempt, err := strconv.Atoi(name)
	if err != nil || attempt < 1 {
		return Log{}, "", false
	}
	l := Log{BuildKey: streams.BuildKey{Experiment: exp, Toolchain: vals[0], Crate: vals[1], Version: vals[2]}, Attempt: attempt}
	if streams.LogRawKey(l.BuildKey, attempt) != key && streams.LogMetaKey(l.BuildKey, attempt) != key {
		kind = "" // not the canonical spelling of that log's key
	}
	return l, kind, true
}

// livePipe streams what live holds of l's log.
func livePipe(ctx context.Context, live Live, l Log) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(live.Copy(ctx, l, pw)) }()
	return liveReader{pr}
}

// liveReader marks a log read from the stream: it is not compressed.
type liveReader struct{ *io.PipeReader }

// worker searches one log at a time, with buffers kept from log to log.
type worker struct {
	q    Query
	scan *scanner
	dec  *zstd.Decoder
}

func newWorker(q Query) *worker {
	return &worker{q: q, scan: newScanner(q.Pattern, q.Context)}
}

// errFirst stops a scan at the first match of a FirstOnly query.
var errFirst = errors.New("first match found")

// search reads the log open gives and returns its lines to show and how
// many bytes of it were read.
func (w *worker) search(ctx context.Context, l Log, open func(context.Context) (io.ReadCloser, error)) (Hits, int64, error) {
	h := Hits{Log: l}
	rc, err := open(ctx)
	if err != nil {
		return h, 0, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if _, live := rc.(liveReader); !live {
		if w.dec == nil {
			if w.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDecoderWindow)); err != nil {
				return h, 0, fmt.Errorf("zstd decoder: %w", err)
			}
		}
		if err := w.dec.Reset(rc); err != nil {
			return h, 0, fmt.Errorf("zstd: %w", err)
		}
		defer w.dec.Reset(nil)
		r = w.dec
	}
	n, err := w.scan.scan(ctx, r, func(ln line) error {
		if len(h.Lines) == MaxLinesPerLog {
			h.Truncated = true
			return errFirst
		}
		h.Lines = append(h.Lines, Line{Number: ln.n, Text: string(printable(nil, ln.text)), Match: ln.match})
		if w.q.FirstOnly && ln.match {
			return errFirst
		}
		return nil
	})
	if errors.Is(err, errFirst) {
		err = nil
	}
	return h, n, err
}
