package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ejecta-build/ejecta/streams"
)

// A builder credential publishes ResultsMaxMsgsPerSubject results that do
// not decode, or whose body names another build than their subject, on the
// subject of an attempt it was never handed, ahead of it. The reporter
// deletes every result it refuses once dead-lettered, so the stream, which
// refuses more than that many per subject, still takes the genuine one.
func TestRefusalsDoNotSquatAResultSubject(t *testing.T) {
	e := newEnv(t)
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	e.putRecord(streams.Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"},
		Mode: streams.ModeCheckOnly, CrateSource: "/src", Selection: "list",
		Crates: 1, Jobs: 2, Published: 2, CreatedAt: time.Now().UTC(), Tickets: true})
	nightly := result("tix", "alpha", "1.0.0", "nightly", 1, streams.StatusBuildFail, "")
	subj := streams.ResultSubject(nightly.BuildKey, 1, streams.AnonymousSender)
	other := result("tix", "other", "1.0.0", "nightly", 1, streams.StatusTestPass, "")
	mismatched, err := json.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	for i := range streams.ResultsMaxMsgsPerSubject {
		data := []byte("not a result")
		if i%2 == 1 {
			data = mismatched
		}
		e.publishRaw(subj, data, fmt.Sprintf("squat-%d", i))
	}
	e.startReporterWith(Config{Debounce: testDebounce, JobKey: key})
	e.deadReasons(streams.ResultsMaxMsgsPerSubject)
	time.Sleep(500 * time.Millisecond) // any deletion has happened by now

	nightly.Sign(key.Ticket(nightly.BuildKey, 0))
	data, err := json.Marshal(nightly)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(subj)
	m.Data = data
	m.Header.Set(nats.MsgIdHdr, streams.SignedMsgID(subj, nightly.MAC))
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Errorf("the genuine result of an attempt is refused by the results stream after refusals the reporter left there: %v", err)
	}
}
