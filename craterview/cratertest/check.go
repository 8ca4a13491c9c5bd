package cratertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// View is what Check found in a crater view.
type View struct {
	Crates int
	// Logs counts the log.txt that results.json's log paths reached.
	Logs int
	// Archives maps each archive's name (all, or a comparison) to its
	// entries.
	Archives map[string][]string
	Config   Experiment
}

// Check reads the crater view under root in view as crater's consumers
// do, and compares it with experiment exp in src, ejecta's own files:
// results.json and config.json decode strictly into crater's types; every
// run's log path, percent-decoded, is a log.txt under root; every archive
// under root/logs-archives/ holds entries <comparison>/reg/<name>/<version>/<toolchain>.txt
// of the crate's comparison; and every log, as log.txt or in an archive,
// is byte for byte ejecta's stored log of that run, decompressed.
// all.tar.zst holds every log, each comparison's archive those of its
// crates.
func Check(t testing.TB, view store.Store, root string, src store.Store, exp string) View {
	t.Helper()
	ctx := context.Background()
	own := ownLogs(t, src, exp)
	var v View
	MustDecode(t, "config.json", read(t, view, root+"config.json"), &v.Config)
	var tcs []string
	for i, tc := range v.Config.Toolchains {
		var d DistToolchain
		MustDecode(t, fmt.Sprintf("config.json toolchains[%d].source", i), tc.Source, &d)
		tcs = append(tcs, d.Name)
	}

	var raw RawTestResults
	MustDecode(t, "results.json", read(t, view, root+"results.json"), &raw)
	comparisonOf := map[string]string{} // name@version
	wantAll := 0
	for i, data := range raw.Crates {
		var c CrateResult
		MustDecode(t, fmt.Sprintf("results.json crates[%d]", i), data, &c, "status")
		var reg RegistryCrate
		MustDecode(t, fmt.Sprintf("results.json crates[%d].krate.Registry", i), c.Krate["Registry"], &reg)
		if !slices.Contains(Comparisons, c.Res) {
			t.Errorf("%s: res %q is no crater comparison", c.Name, c.Res)
		}
		id := reg.Name + "@" + reg.Version
		comparisonOf[id] = c.Res
		v.Crates++
		for j, run := range c.Runs {
			if run == nil {
				continue
			}
			if err := ParseTestResult(run.Res); err != nil {
				t.Errorf("%s run %d: %v", id, j, err)
			}
			key, err := url.PathUnescape(run.Log)
			if err != nil || len(strings.Split(run.Log, "/")) != 3 {
				t.Errorf("%s run %d: log %q is not <toolchain>/reg/<crate> (%v)", id, j, run.Log, err)
				continue
			}
			want, ok := own[id+" "+tcs[j]]
			if !ok {
				t.Errorf("%s run %d: ejecta has no log on %s", id, j, tcs[j])
				continue
			}
			if got := read(t, view, root+key+"/log.txt"); !bytes.Equal(got, want) {
				t.Errorf("%s on %s: %s/log.txt is %d bytes, not ejecta's log (%d bytes)", id, tcs[j], key, len(got), len(want))
			}
			v.Logs++
			wantAll++
		}
	}

	v.Archives = map[string][]string{}
	for obj, err := range view.List(ctx, root+"logs-archives/") {
		if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, root+"logs-archives/"), ".tar.zst")
		if !ok {
			continue
		}
		v.Archives[name] = []string{}
		eachEntry(t, view, obj.Key, func(entry string, data []byte) {
			v.Archives[name] = append(v.Archives[name], entry)
			p := strings.Split(entry, "/")
			if len(p) != 5 || p[1] != "reg" || !strings.HasSuffix(p[4], ".txt") {
				t.Errorf("%s: entry %q is not <comparison>/reg/<name>/<version>/<toolchain>.txt", name, entry)
				return
			}
			tc, err := url.PathUnescape(strings.TrimSuffix(p[4], ".txt"))
			id := p[2] + "@" + p[3]
			if err != nil || (name != "all" && p[0] != name) || comparisonOf[id] != p[0] {
				t.Errorf("%s: entry %q: %s's comparison is %q (%v)", name, entry, id, comparisonOf[id], err)
			}
			if want, ok := own[id+" "+tc]; !ok || !bytes.Equal(data, want) {
				t.Errorf("%s: entry %q is %d bytes, not ejecta's log of %s on %s (%d bytes)", name, entry, len(data), id, tc, len(want))
			}
		})
	}
	parts := 0
	for name, entries := range v.Archives {
		if name != "all" {
			parts += len(entries)
		}
	}
	if n := len(v.Archives["all"]); n != wantAll || parts != wantAll {
		t.Errorf("all.tar.zst holds %d logs, the comparisons' archives %d; results.json names %d", n, parts, wantAll)
	}
	return v
}

// ownLogs reads experiment exp's logs as ejecta stores them, the first run
// of each crate on each toolchain, by "name@version toolchain":
// decompressed from the raw object its metadata names.
func ownLogs(t testing.TB, st store.Store, exp string) map[string][]byte {
	t.Helper()
	prefix := streams.ExperimentPrefix(exp)
	rc, err := st.Get(context.Background(), results.Key(exp))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string][]byte{}
	_, err = results.Read(rc, func(c results.CrateResult, _ json.RawMessage) error {
		for _, r := range c.Results {
			if r.Log == "" {
				continue
			}
			k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
			var meta streams.LogMeta
			if err := json.Unmarshal(read(t, st, prefix+streams.LogMetaKey(k, r.Attempt)), &meta); err != nil {
				return err
			}
			var data []byte
			if meta.Raw == "" {
				data = read(t, st, prefix+meta.Plain)
			} else if data, err = zstdDecode(read(t, st, prefix+meta.Raw)); err != nil {
				return fmt.Errorf("%s: %w", meta.Raw, err)
			}
			out[c.Name+"@"+c.Version+" "+r.Toolchain] = data
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ejecta's results.json of %s: %v", exp, err)
	}
	return out
}

func zstdDecode(data []byte) ([]byte, error) {
	zr, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return zr.DecodeAll(data, nil)
}

// eachEntry hands each entry of the tar.zst archive at key to f.
func eachEntry(t testing.TB, st store.Store, key string, f func(name string, data []byte)) {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(read(t, st, key)))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", st.Location(key), err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", st.Location(key), hdr.Name, err)
		}
		f(hdr.Name, data)
	}
}

func read(t testing.TB, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("read %s: %v", st.Location(key), err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", st.Location(key), err)
	}
	return data
}
