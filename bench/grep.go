package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// grepPattern is what both sides look for: a warning a few logs print.
const grepPattern = `warning: unused_must_use`

// Grep measures `ejecta grep` over an experiment's stored logs: the logs
// are compressed as the uploader stores them, in a file store, and read,
// decompressed and matched by logsearch with its default parallelism. The
// baseline is `zstdcat FILES | grep -c` over the same objects in the same
// run, which is what a person with the store mounted would do; both must
// count the same matching lines.
func Grep(t testing.TB, full bool) []Row {
	logs, logBytes := 20, 64<<10
	if full {
		logs, logBytes = 400, 512<<10
	}
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	total, want := writeGrepLogs(t, st, logs, logBytes)
	re := regexp.MustCompile("(?m)" + grepPattern)

	var files []string
	for i := range logs {
		files = append(files, filepath.Join(dir, streams.ExperimentPrefix("grep")+streams.LogRawKey(grepBuild(i), 1)))
	}
	var ours, theirs []time.Duration
	for range 3 { // alternating, the median of each
		start := time.Now()
		got := 0
		stats, err := logsearch.Search(context.Background(), st, nil, "grep", logsearch.Query{Pattern: re}, func(h logsearch.Hits) error {
			got += len(h.Lines)
			return nil
		})
		ours = append(ours, time.Since(start))
		if err != nil || got != want || stats.Bytes != total {
			t.Fatalf("logsearch: %d matching lines, %d bytes, %v; want %d lines, %d bytes", got, stats.Bytes, err, want, total)
		}
		start = time.Now()
		cmd := exec.Command("sh", "-c", `zstdcat "$@" | LC_ALL=C grep -c -e '`+grepPattern+`'`, "sh")
		cmd.Args = append(cmd.Args, files...)
		out, err := cmd.Output()
		theirs = append(theirs, time.Since(start))
		if n, perr := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || perr != nil || n != want {
			t.Fatalf("zstdcat | grep -c: %q, %v; want %d", out, err, want)
		}
	}
	ourRate := float64(total) / measure.Median(ours).Seconds()
	theirRate := float64(total) / measure.Median(theirs).Seconds()
	return []Row{{
		Figure:   fmt.Sprintf("ejecta grep, stored logs of one experiment (%d zstd logs, %s in all), a rare literal", logs, mib(total)),
		Ejecta:   mibps(total, measure.Median(ours).Seconds()),
		Baseline: mibps(total, measure.Median(theirs).Seconds()) + " `zstdcat FILES | LC_ALL=C grep -c`, same objects",
		Ratio:    ratio(ourRate, theirRate),
		Goal:     "≥ 1× (at least as fast)",
		Verdict:  judge(full, ourRate >= theirRate),
		Note:     fmt.Sprintf("3 runs each, alternating, medians; %d matching lines found by both; bytes are the logs' uncompressed bytes", want),
	}}
}

func grepBuild(i int) streams.BuildKey {
	return streams.BuildKey{Experiment: "grep", Crate: fmt.Sprintf("crate-%04d", i), Version: "1.0.0", Toolchain: "nightly"}
}

// writeGrepLogs stores n logs of about size bytes of compiler output, a few
// lines of which match grepPattern, and returns their uncompressed bytes
// and how many lines match.
func writeGrepLogs(t testing.TB, st store.Store, n, size int) (int64, int) {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	lines := []string{
		"   Compiling %s v0.%d.3\n",
		"\x1b[0m\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m: unused variable: `x%d`\x1b[0m\n",
		"   \x1b[0m\x1b[1m\x1b[38;5;12m--> \x1b[0msrc/lib.rs:%d:9\n",
		"    |\n%d | let x = compute();\n    |     ^ help: if this is intentional, prefix it with an underscore\n",
		"test tests::case_%d ... ok\n",
		"error[E0%d]: mismatched types\n",
	}
	var total int64
	matches := 0
	var b bytes.Buffer
	for i := range n {
		b.Reset()
		for b.Len() < size {
			j := rnd.IntN(len(lines))
			if j == 0 {
				fmt.Fprintf(&b, lines[0], fmt.Sprintf("dep%d", rnd.IntN(500)), rnd.IntN(50))
			} else {
				fmt.Fprintf(&b, lines[j], rnd.IntN(1000))
			}
			if rnd.IntN(2000) == 0 {
				b.WriteString(grepPattern + " in this crate\n")
				matches++
			}
		}
		k := grepBuild(i)
		raw := enc.EncodeAll(b.Bytes(), nil)
		prefix := streams.ExperimentPrefix("grep")
		for key, data := range map[string][]byte{prefix + streams.LogRawKey(k, 1): raw, prefix + streams.LogMetaKey(k, 1): []byte(`{"v":1}`)} {
			if err := st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
				t.Fatal(err)
			}
		}
		total += int64(b.Len())
	}
	return total, matches
}
