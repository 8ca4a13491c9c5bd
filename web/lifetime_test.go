package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// drain reads a stream's events until the server ends it.
func drain(t *testing.T, ch <-chan sseEvent) []sseEvent {
	t.Helper()
	var evs []sseEvent
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return evs
			}
			if ev.Event != "ping" {
				evs = append(evs, ev)
			}
		case <-timeout:
			t.Fatalf("the stream did not end within 10s (%d events)", len(evs))
		}
	}
}

// TestStreamLifetimeEndsAndResumes follows a live log as a browser does
// over streams the server ends at Config.MaxStreamLifetime: each stream
// ends without an end event, and the next, opened with the id of the last
// lines event as Last-Event-ID, carries on. Lines are published while a
// stream is open and while none is, split across chunks; every line
// arrives exactly once, numbered in order, and the lines joined are the
// log's bytes.
func TestStreamLifetimeEndsAndResumes(t *testing.T) {
	const lifetime = 600 * time.Millisecond
	e := start(t, web.Config{MaxStreamLifetime: lifetime, KeepAlive: 100 * time.Millisecond})
	log := buildlogtest.NewLog(t, e.js, build, 1)
	log.Write("line 1\nline 2\nli")

	var (
		got    strings.Builder
		nextNo = 1
		lastID string
		n      = 2 // lines published whole so far
	)
	take := func(ev sseEvent) {
		t.Helper()
		var l lines
		if err := json.Unmarshal([]byte(ev.Data), &l); err != nil {
			t.Fatal(err)
		}
		if l.First != nextNo {
			t.Fatalf("lines from %d after %d lines: lost or repeated (id %s, resumed from %s)", l.First, nextNo-1, ev.ID, lastID)
		}
		for _, h := range l.HTML {
			got.WriteString(h + "\n")
		}
		nextNo += len(l.HTML)
		lastID = ev.ID
	}
	for round := 0; round < 3; round++ {
		t0 := time.Now()
		ch := readEvents(t, e.url+logPath+"/events", lastID)
		// While the stream is open: the line begun before, and two more
		// split across chunks.
		log.Write(fmt.Sprintf("ne %d\nline %d\nli", n+1, n+2))
		log.Write(fmt.Sprintf("ne %d\nli", n+3))
		n += 3
		for _, ev := range drain(t, ch) {
			if ev.Event != "lines" {
				t.Fatalf("round %d: event %+v before the lifetime ended the stream", round, ev)
			}
			take(ev)
		}
		if took := time.Since(t0); took < lifetime {
			t.Fatalf("round %d: the stream ended after %s, before its lifetime", round, took)
		}
		// While no stream is open.
		log.Write(fmt.Sprintf("ne %d\nli", n+1))
		n++
	}
	log.Write(fmt.Sprintf("ne %d\n", n+1))
	n++
	log.End(streams.StatusTestPass)
	evs := drain(t, readEvents(t, e.url+logPath+"/events", lastID))
	if len(evs) == 0 || evs[len(evs)-1].Event != "end" {
		t.Fatalf("last stream: %+v, want lines and the end", evs)
	}
	for _, ev := range evs[:len(evs)-1] {
		take(ev)
	}
	if got.String() != log.String() || nextNo != n+1 {
		t.Fatalf("lines over %d streams:\n%q\nwant the log:\n%q", 4, got.String(), log.String())
	}
}
