package archive

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
)

// TestWriteHoldsEveryLogByteIdentical archives logs of every kind (empty,
// small and read ahead, larger than what is read ahead and so streamed,
// kept only plain) and reads the archive back as a user would: exactly
// those entries, in order, each the stored bytes.
func TestWriteHoldsEveryLogByteIdentical(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			ctx := context.Background()
			logs := []testLog{
				putLog(t, st, "regressed/a-1.0.0/stable.log", 0, 1, true),
				putLog(t, st, "regressed/a-1.0.0/nightly.log", 10_000, 2, true),
				putLog(t, st, "regressed/b-0.1.0/stable.log", 3<<20, 3, true), // > Budget/Parallel: streamed
				putLog(t, st, "regressed/b-0.1.0/nightly.log", 200_000, 4, false),
				putLog(t, st, "regressed/b-0.1.0/rerun-1/nightly.log", 1, 5, true),
			}
			for i := range 40 { // more small logs than the pool holds at once
				logs = append(logs, putLog(t, st, "regressed/c"+itoa(i)+"-1.0.0/stable.log", int64(i*997), uint64(100+i), true))
			}
			var entries []Entry
			var total int64
			for _, l := range logs {
				entries = append(entries, l.entry)
				total += l.bytes
			}
			key := testPrefix + "logs-archives/regressed.tar.zst"
			sum, err := Write(ctx, st, testPrefix, key, entries, Options{Parallel: 4, Budget: 4 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Logs != len(logs) || sum.Bytes != total {
				t.Errorf("summary %+v, want %d logs, %d bytes", sum, len(logs), total)
			}
			checkArchive(t, st, key, logs)

			// Rebuilding replaces the object.
			if _, err := Write(ctx, st, testPrefix, key, entries[:2], Options{}); err != nil {
				t.Fatal(err)
			}
			checkArchive(t, st, key, logs[:2])
		})
	}
}

// TestWriteRefusesWhatIsNotTheStoredLog checks that a log missing, cut
// short, grown or altered fails the archive with an error naming it, and
// leaves no archive behind.
func TestWriteRefusesWhatIsNotTheStoredLog(t *testing.T) {
	st := stores(t)["file"](t)
	good := putLog(t, st, "fixed/good-1.0.0/stable.log", 5000, 1, true)
	big := putLog(t, st, "fixed/big-1.0.0/stable.log", 3<<20, 2, true)
	plain := putLog(t, st, "fixed/plain-1.0.0/stable.log", 5000, 3, false)
	alter := func(l testLog, name string, change func(*streams.LogMeta)) Entry {
		meta := streams.LogMeta{V: 1, Bytes: uint64(l.bytes), SHA256: l.sha256}
		if l.entry.Name == plain.entry.Name {
			meta.Plain = strings.TrimSuffix(l.entry.Meta, ".json") + ".log"
		} else {
			meta.Raw = strings.TrimSuffix(l.entry.Meta, ".json") + ".log.zst"
		}
		change(&meta)
		key := "bad/" + name + ".json"
		putMeta(t, st, key, meta)
		return Entry{Name: "fixed/" + name + "/stable.log", Meta: key}
	}
	tests := []struct {
		name  string
		entry Entry
		want  string
	}{
		{"missing", Entry{Name: "fixed/gone-1.0.0/stable.log", Meta: "logs/nowhere.json"}, "fixed/gone-1.0.0/stable.log: metadata"},
		{"shorter than its metadata", alter(good, "short", func(m *streams.LogMeta) { m.Bytes++ }), "is 5000 bytes, its metadata says 5001"},
		{"longer than its metadata", alter(good, "long", func(m *streams.LogMeta) { m.Bytes-- }), "longer than the 4999 bytes"},
		{"other bytes", alter(good, "sha", func(m *streams.LogMeta) { m.SHA256 = strings.Repeat("0", 64) }), "its metadata says 0000"},
		{"streamed, other bytes", alter(big, "bigsha", func(m *streams.LogMeta) { m.SHA256 = strings.Repeat("0", 64) }), "fixed/bigsha/stable.log"},
		{"plain, cut short", alter(plain, "plainshort", func(m *streams.LogMeta) { m.Bytes += 10 }), "fixed/plainshort/stable.log"},
		{"no object named", alter(good, "none", func(m *streams.LogMeta) { m.Raw, m.Plain = "", "" }), "names neither a raw nor a plain log"},
		{"object outside", alter(good, "escape", func(m *streams.LogMeta) { m.Raw = "../other/x.log.zst" }), "bad segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := testPrefix + "logs-archives/" + strings.ReplaceAll(tt.name, " ", "-") + ".tar.zst"
			_, err := Write(context.Background(), st, testPrefix, key, []Entry{good.entry, tt.entry, big.entry}, Options{Parallel: 2, Budget: 2 << 20})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.name == "missing" && !errors.Is(err, ErrMissingLog) {
				t.Errorf("error %v is not ErrMissingLog", err)
			}
			if exists(t, st, key) {
				t.Errorf("archive %s stored despite the error", key)
			}
		})
	}
}

// TestWriteWaitsForALateLog: an upload may end after the result naming
// its log; Options.Wait covers that.
func TestWriteWaitsForALateLog(t *testing.T) {
	st := stores(t)["file"](t)
	early := putLog(t, st, "regressed/a-1.0.0/stable.log", 100, 1, true)
	late := testLog{entry: Entry{Name: "regressed/a-1.0.0/nightly.log", Meta: "logs/2/regressed/a-1.0.0/nightly.log.json"}}
	done := make(chan testLog)
	go func() {
		time.Sleep(300 * time.Millisecond)
		done <- putLog(t, st, "regressed/a-1.0.0/nightly.log", 777, 2, true)
	}()
	key := testPrefix + "logs-archives/regressed.tar.zst"
	if _, err := Write(context.Background(), st, testPrefix, key, []Entry{early.entry, late.entry}, Options{Wait: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	late = <-done
	checkArchive(t, st, key, []testLog{early, late})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, ""},
		{Options{Parallel: -1}, "archive parallel -1"},
		{Options{Budget: 1000}, "archive memory budget 1000 bytes"},
		{Options{Wait: -time.Second}, "archive wait -1s"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
	if _, err := Write(context.Background(), nil, "", "k", nil, Options{Parallel: 2000}); err == nil || !strings.Contains(err.Error(), "parallel 2000") {
		t.Errorf("Write with bad options: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
