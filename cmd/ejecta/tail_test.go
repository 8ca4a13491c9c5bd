package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

func TestTailAndLogs(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := func(crate, tc string) streams.BuildKey {
		return streams.BuildKey{Experiment: "t1", Crate: crate, Version: "1.0.0", Toolchain: tc}
	}
	running := buildlogtest.NewLog(t, js, k("itoa", "nightly"), 1)
	running.Write("\x1b[1m\x1b[32m   Compiling\x1b[0m itoa\n")
	running.Write("half a li")
	other := buildlogtest.NewLog(t, js, k("either", "stable"), 1)
	other.Write("either line\n")
	done := buildlogtest.NewLog(t, js, k("itoa", "stable"), 1)
	done.Write("stored line 1\nstored line 2\n")
	done.End(streams.StatusTestPass)
	done.StoreAndPurge(st)
	res, _ := json.Marshal(map[string]int{"v": 1})
	if _, err := js.Publish(context.Background(), streams.ResultSubject(k("itoa", "stable"), 1, streams.AnonymousSender), res); err != nil {
		t.Fatal(err)
	}

	g := []string{"--nats", nats.URL, "--log-level", "warn"}
	stor := []string{"--store", "file://" + dir}
	for _, tc := range []struct {
		name    string
		args    []string
		want    string // exact stdout, or an error fragment
		wantErr bool
	}{
		{"live build, colours stripped when piped", []string{"tail", "t1", "itoa"}, "   Compiling itoa\nhalf a li", false},
		{"colours forced", []string{"tail", "t1", "itoa", "--color", "always"}, running.String(), false},
		{"stored build", []string{"logs", "t1", "itoa@1.0.0", "--toolchain", "stable"}, done.String(), false},
		{"every live build prefixed", []string{"tail", "t1"}, "itoa@1.0.0/nightly#1 |    Compiling itoa\neither@1.0.0/stable#1 | either line\nitoa@1.0.0/nightly#1 | half a li\n", false},
		{"ambiguous toolchain", []string{"logs", "t1", "either"}, "", false},
		{"unknown crate", []string{"logs", "t1", "serde"}, "crate serde: no queued job, live log or result in experiment t1", true},
		{"bad color", []string{"tail", "t1", "itoa", "--color", "rainbow"}, `--color "rainbow": want auto, always or never`, true},
		{"bad version", []string{"logs", "t1", "itoa@1.0"}, `CRATE@VERSION: version "1.0"`, true},
		{"bad experiment", []string{"tail", "T/1"}, `EXP: experiment name "T/1"`, true},
		{"logs needs a crate", []string{"logs", "t1"}, "logs: want EXP CRATE[@VERSION], have 1 arguments", true},
		{"toolchain without crate", []string{"tail", "t1", "--toolchain", "stable"}, "--toolchain and --attempt need a CRATE", true},
		{"attempt with no log", []string{"logs", "t1", "itoa", "--toolchain", "stable", "--attempt", "7"}, "attempt 7: no log on the stream or in the store", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{}, g...), tc.args...), stor...)
			if tc.args[0] == "tail" && len(tc.args) > 1 && tc.args[1] == "t1" && len(tc.args) == 2 {
				args = append(append([]string{}, g...), tc.args...) // no --store without CRATE either: accepted
			}
			out, err := run(t, args...)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				return
			}
			if tc.name == "ambiguous toolchain" {
				// either has one live toolchain: it is meant.
				if err != nil || out != "either line\n" {
					t.Fatalf("%q, %v", out, err)
				}
				return
			}
			if err != nil || out != tc.want {
				t.Fatalf("output %q (%v)\nwant %q", out, err, tc.want)
			}
		})
	}
}

// A build's output is the crate's own: tail and logs pass only text and,
// with colours, SGR sequences to the terminal, whatever chunks cut the
// controls; --raw passes the bytes as they are.
func TestTailKeepsTerminalControlsOut(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	k := func(crate string) streams.BuildKey {
		return streams.BuildKey{Experiment: "t3", Crate: crate, Version: "1.0.0", Toolchain: "stable"}
	}
	evil := buildlogtest.NewLog(t, js, k("evil"), 1)
	evil.Write("\x1b]0;pwned\x07\x1b[1;31mred\x1b[0m\x1b[2J\x1b[6n\x1bP$q m\x1b\\\x1b]5") // an OSC 52 cut in two chunks
	evil.Write("2;c;cm0gLXJmIH4K\x07 ok\n")
	evil.Write("\x1b]0;never terminated\n")
	plain := buildlogtest.NewLog(t, js, k("plain"), 1)
	plain.Write("plain line\n")

	g := []string{"--nats", nats.URL, "--log-level", "warn"}
	stor := []string{"--store", "file://" + t.TempDir()}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"piped: text only", []string{"tail", "t3", "evil"}, "red ok\n"},
		{"colours: SGR kept, nothing else", []string{"logs", "t3", "evil", "--color", "always"}, "\x1b[1;31mred\x1b[0m ok\n"},
		{"raw", []string{"logs", "t3", "evil", "--raw"}, evil.String()},
		{"every build: one's open sequence swallows no other's lines", []string{"tail", "t3", "--color", "always"},
			"evil@1.0.0/stable#1 | \x1b[1;31mred\x1b[0m ok\nplain@1.0.0/stable#1 | plain line\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{}, g...), tc.args...)
			if len(tc.args) > 2 {
				args = append(args, stor...)
			}
			out, err := run(t, args...)
			if err != nil || out != tc.want {
				t.Fatalf("output %q (%v)\nwant %q", out, err, tc.want)
			}
		})
	}
	if _, err := run(t, append(append(append([]string{}, g...), "tail", "t3", "evil", "--raw", "--color", "never"), stor...)...); err == nil ||
		!strings.Contains(err.Error(), "--raw writes every byte as it is, colours included: drop --color never") {
		t.Errorf("--raw with --color: %v", err)
	}
}

// tail -f prints a build's lines as they are published and returns at its end.
func TestTailFollowsToTheEnd(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	log := buildlogtest.NewLog(t, js, streams.BuildKey{Experiment: "t2", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}, 1)
	log.Write("start\n")
	published := make(chan struct{})
	defer func() { <-published }()
	go func() {
		defer close(published)
		for _, l := range []string{"a\n", "b\n", "c"} {
			time.Sleep(50 * time.Millisecond)
			log.Write(l)
		}
		log.End(streams.StatusBuildFail)
	}()
	out, err := run(t, "--nats", nats.URL, "--log-level", "warn", "tail", "t2", "cfg-if", "-f", "--store", "file://"+t.TempDir())
	if err != nil || !strings.HasPrefix(out, "start\na\nb\nc") || !strings.Contains(out, "ended: build-fail, 11 bytes") {
		t.Fatalf("tail -f: %q, %v", out, err)
	}
}

func TestBuildersOutput(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	kv, err := js.KeyValue(context.Background(), streams.BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hb := streams.Heartbeat{V: 1, ID: "b1", Host: "host-1", Slots: 4, Toolchains: []string{"stable", "nightly"}, Updated: now,
		FreeDiskBytes: 3 << 29, Paused: "free disk below 2.0 GiB",
		Running: []streams.RunningBuild{{BuildKey: streams.BuildKey{Experiment: "e", Crate: "itoa", Version: "1.0.1", Toolchain: "stable"}, Attempt: 1, Started: now.Add(-90 * time.Second)}}}
	data, _ := json.Marshal(hb)
	if _, err := kv.Put(context.Background(), "b1", data); err != nil {
		t.Fatal(err)
	}
	g := []string{"--nats", nats.URL, "--log-level", "warn", "builders"}
	out, err := run(t, g...)
	if err != nil || !strings.Contains(out, "b1") || !strings.Contains(out, "host-1") || !strings.Contains(out, "stable,nightly") ||
		!strings.Contains(out, "b1: e/itoa@1.0.1/stable attempt 1, running for 1m3") ||
		!strings.Contains(out, "1.5 GiB") || !strings.Contains(out, "paused: free disk below 2.0 GiB") {
		t.Fatalf("builders: %q, %v", out, err)
	}
	out, err = run(t, append(g, "--output", "json")...)
	var got []streams.Heartbeat
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || len(got) != 1 || got[0].Slots != 4 {
		t.Fatalf("builders json: %q, %v", out, err)
	}
	if _, err := run(t, append(g, "--output", "xml")...); err == nil || !strings.Contains(err.Error(), `--output "xml": want text or json`) {
		t.Fatalf("bad output: %v", err)
	}
}

// --tail N prints the last N lines of what is there, --since D what was
// written in the last D (a stored log whole when it spans the cut, not at
// all when it ended before), both per build without CRATE; then --follow
// carries on. logs takes them and -f too.
func TestTailLinesAndSince(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := func(crate, tc string) streams.BuildKey {
		return streams.BuildKey{Experiment: "t5", Crate: crate, Version: "1.0.0", Toolchain: tc}
	}
	old, recent := time.Now().Add(-time.Hour), time.Now().Add(-time.Minute)
	live := buildlogtest.NewLog(t, js, k("live", "stable"), 1)
	live.WriteAt("an hour ago 1\nan hour ago 2\n", old)
	live.WriteAt("a minute ago 1\na minute ago 2\na minute ago 3\n", recent)
	live.WriteAt("unfinished", recent)
	other := buildlogtest.NewLog(t, js, k("other", "stable"), 1)
	other.WriteAt("other 1\nother 2\n", old)

	// Stored logs and their metadata: one ended an hour ago, one spans it.
	stored := func(crate string, first, last time.Time) {
		l := buildlogtest.NewLog(t, js, k(crate, "nightly"), 1)
		l.Write("stored 1\nstored 2\nstored 3\n")
		l.End(streams.StatusTestPass)
		l.StoreAndPurge(st)
		res, _ := json.Marshal(map[string]int{"v": 1})
		if _, err := js.Publish(context.Background(), streams.ResultSubject(k(crate, "nightly"), 1, streams.AnonymousSender), res); err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(streams.LogMeta{V: streams.LogMetaVersion, BuildKey: k(crate, "nightly"), Attempt: 1, FirstAt: first, LastAt: last})
		key := streams.ExperimentPrefix("t5") + streams.LogMetaKey(k(crate, "nightly"), 1)
		if err := st.Put(context.Background(), key, strings.NewReader(string(meta)), int64(len(meta)), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	stored("ended", old.Add(-time.Minute), old)
	stored("spans", old, recent)

	g := []string{"--nats", nats.URL, "--log-level", "warn", "--store", "file://" + dir}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"last lines", []string{"tail", "t5", "live", "--tail", "2"}, "a minute ago 3\nunfinished"},
		{"more lines than there are", []string{"logs", "t5", "other", "--tail", "10"}, "other 1\nother 2\n"},
		{"since", []string{"tail", "t5", "live", "--since", "10m"}, "a minute ago 1\na minute ago 2\na minute ago 3\nunfinished"},
		{"since and last lines", []string{"tail", "t5", "live", "--since", "10m", "--tail", "1"}, "unfinished"},
		{"stored, ended before the cut", []string{"logs", "t5", "ended", "--since", "10m"}, ""},
		{"stored, spanning the cut", []string{"logs", "t5", "spans", "--since", "10m"}, "stored 1\nstored 2\nstored 3\n"},
		{"stored, last lines", []string{"logs", "t5", "ended", "--tail", "1"}, "stored 3\n"},
		{"every build, last lines", []string{"tail", "t5", "--tail", "1"},
			"other@1.0.0/stable#1 | other 2\nlive@1.0.0/stable#1 | unfinished\n"},
		{"every build, since", []string{"tail", "t5", "--since", "10m"},
			"live@1.0.0/stable#1 | a minute ago 1\nlive@1.0.0/stable#1 | a minute ago 2\nlive@1.0.0/stable#1 | a minute ago 3\nlive@1.0.0/stable#1 | unfinished\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append(append([]string{}, g...), tc.args...)...)
			// A stored log printed whole across the cut says so, on stderr.
			note, rest, ok := strings.Cut(out, "\n")
			noted := ok && strings.HasPrefix(note, "-- the stored log keeps no time per line")
			if noted {
				out = rest
			}
			if noted != (tc.name == "stored, spanning the cut") {
				t.Errorf("said a stored log keeps no time per line: %v", noted)
			}
			if err != nil || out != tc.want {
				t.Errorf("output %q (%v)\nwant %q", out, err, tc.want)
			}
		})
	}
	if _, err := run(t, append(g, "tail", "t5", "live", "--tail", "-1")...); err == nil || exitCode(err) != 2 {
		t.Errorf("--tail -1: %v, want exit 2", err)
	}

	// -f after the last lines: what comes next, to the end.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, command := range []string{"tail", "logs"} {
		followed := buildlogtest.NewLog(t, js, k("followed-"+command, "stable"), 1)
		followed.Write("one\ntwo\nthree\n")
		outc := make(chan string, 1)
		go func() {
			out, err := run(t, append(g, command, "t5", "followed-"+command, "--tail", "1", "-f")...)
			if err != nil {
				out += err.Error()
			}
			outc <- out
		}()
		time.Sleep(500 * time.Millisecond)
		followed.Write("four\n")
		followed.End(streams.StatusTestPass)
		select {
		case out := <-outc:
			if !strings.HasPrefix(out, "three\nfour\n") {
				t.Errorf("%s --tail 1 -f: %q, want the last line then what came", command, out)
			}
		case <-ctx.Done():
			t.Fatalf("%s -f did not return at the log's end", command)
		}
	}
}

// --timestamps begins each line with the time it was written, live or
// stored with its times index, and --since cuts a stored log with times
// line by line.
func TestLogsTimestamps(t *testing.T) {
	nats := testenv.StartNATS(t)
	_, js := nats.Connect(t)
	buildlogtest.Ensure(t, js)
	dir := t.TempDir()
	st, err := store.NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := func(crate string) streams.BuildKey {
		return streams.BuildKey{Experiment: "ts", Crate: crate, Version: "1.0.0", Toolchain: "stable"}
	}
	old, recent := time.Now().Add(-time.Hour).UTC(), time.Now().Add(-time.Minute).UTC()
	stamp := func(at time.Time) string { return at.Format("2006-01-02T15:04:05.000Z ") }
	live := buildlogtest.NewLog(t, js, k("live"), 1)
	live.WriteAt("an hour ago\n", old)
	live.WriteAt("a minute ago\nunfin", recent)
	live.WriteAt("ished\n", time.Time{})

	stored := buildlogtest.NewLog(t, js, k("stored"), 1)
	stored.Write("an hour ago\na minute ago 1\na minute ago 2\n")
	stored.End(streams.StatusTestPass)
	stored.StoreAndPurge(st)
	times := streams.AppendLogTime(nil, streams.LogTime{Offset: 0, At: old})
	times = streams.AppendLogTime(times, streams.LogTime{Offset: 12, At: recent})
	if err := st.Put(context.Background(), streams.ExperimentPrefix("ts")+streams.LogTimesKey(k("stored"), 1), bytes.NewReader(times), int64(len(times)), ""); err != nil {
		t.Fatal(err)
	}
	res, _ := json.Marshal(map[string]int{"v": 1})
	if _, err := js.Publish(context.Background(), streams.ResultSubject(k("stored"), 1, streams.AnonymousSender), res); err != nil {
		t.Fatal(err)
	}

	g := []string{"--nats", nats.URL, "--log-level", "warn", "--store", "file://" + dir}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"live", []string{"logs", "ts", "live", "--timestamps"},
			stamp(old) + "an hour ago\n" + stamp(recent) + "a minute ago\n" + stamp(recent) + "unfinished\n"},
		{"stored", []string{"logs", "ts", "stored", "--timestamps"},
			stamp(old) + "an hour ago\n" + stamp(recent) + "a minute ago 1\n" + stamp(recent) + "a minute ago 2\n"},
		{"stored, since", []string{"logs", "ts", "stored", "--since", "10m"}, "a minute ago 1\na minute ago 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append(append([]string{}, g...), tc.args...)...)
			if err != nil || out != tc.want {
				t.Errorf("output %q (%v)\nwant %q", out, err, tc.want)
			}
		})
	}
	for _, bad := range [][]string{{"tail", "ts", "--timestamps"}, {"logs", "ts", "live", "--timestamps", "--tail", "2"}} {
		if _, err := run(t, append(append([]string{}, g...), bad...)...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v, want exit 2", bad, err)
		}
	}
}
