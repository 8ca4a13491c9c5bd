package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/streams"
)

// mixRow is one kind of crate in a synthetic experiment: its two results
// and how many in a thousand crates are of the kind.
type mixRow struct {
	perMille int
	a, b     Outcome
}

// realisticMix gives every comparison class, most crates unchanged, as in a
// real run. A depends-on reason names an earlier regressed crate.
var realisticMix = []mixRow{
	{800, oPass, oPass},                 // same-test-pass
	{50, oBuild, oBuild},                // same-build-fail
	{30, oTest, oTest},                  // same-test-fail
	{20, oTSkip, oTSkip},                // same-test-skipped
	{10, oPass, oBuild},                 // regressed
	{10, oPass, bf("depends-on(ROOT)")}, // regressed, dependent
	{2, bf("unknown"), bf("ice")},       // regressed (ICE)
	{10, oBuild, oPass},                 // fixed
	{5, oPass, bf("oom")},               // spurious-regressed
	{5, bf("timeout"), oPass},           // spurious-fixed
	{10, oBroken, oBroken},              // broken
	{10, oPrepare, oPrepare},            // prepare-fail
	{5, oSkipped, oSkipped},             // skipped
	{30, oPass, oError},                 // error
	{3, oPass, oTSkip},                  // unknown
}

// synthetic returns the results of an experiment of n crates, both
// toolchains of a crate one after the other, as builders roughly finish
// them. Names spread over many pages; the same seed gives the same results.
func synthetic(exp string, n int, seed uint64) []streams.Result {
	rng := rand.New(rand.NewPCG(seed, 1))
	total := 0
	for _, m := range realisticMix {
		total += m.perMille
	}
	out := make([]streams.Result, 0, 2*n)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lastRoot := "aa-root"
	for i := range n {
		name := fmt.Sprintf("%c%c-crate-%d", 'a'+rng.IntN(26), 'a'+rng.IntN(26), i)
		pick := rng.IntN(total)
		var m mixRow
		for _, m = range realisticMix {
			if pick < m.perMille {
				break
			}
			pick -= m.perMille
		}
		for j, o := range []Outcome{m.a, m.b} {
			tc := []string{"stable", "nightly"}[j]
			r := result(exp, name, "1.0."+itoa(i%7), tc, 1, o.Status, o.Reason)
			if o.Reason == "depends-on(ROOT)" {
				r.Reason = streams.DependsOn(lastRoot)
			}
			r.FinishedAt = start.Add(time.Duration(2*i+j) * time.Second)
			out = append(out, r)
		}
		if m.b == oBuild && m.a == oPass {
			lastRoot = name
		}
	}
	return out
}

// publishAll publishes rs as fast as the server takes them, with msgIDs
// made from the subject and suffix, and returns when every one is stored.
func (e *env) publishAll(rs []streams.Result, suffix string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(rs))
	for i := range rs {
		data, err := json.Marshal(rs[i])
		if err != nil {
			e.t.Fatal(err)
		}
		subj := streams.ResultSubject(rs[i].BuildKey, rs[i].Attempt, streams.AnonymousSender)
		m := nats.NewMsg(subj)
		m.Data = data
		m.Header.Set(nats.MsgIdHdr, subj+suffix)
		if i%2000 == 1999 {
			// Keep within the client's limit of outstanding publishes.
			e.waitPublished(ctx, len(rs))
		}
		f, err := e.js.PublishMsgAsync(m)
		if err != nil {
			e.t.Fatalf("publish %s: %v", subj, err)
		}
		futures = append(futures, f)
	}
	e.waitPublished(ctx, len(rs))
	for _, f := range futures {
		select {
		case err := <-f.Err():
			e.t.Fatalf("publish %s: %v", f.Msg().Subject, err)
		default:
		}
	}
}

func (e *env) waitPublished(ctx context.Context, n int) {
	e.t.Helper()
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		e.t.Fatalf("publishing %d results: %v", n, ctx.Err())
	}
}
