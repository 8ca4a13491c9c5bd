package builder

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/streams"
)

// streamCount counts the messages of stream matching filter.
func streamCount(t *testing.T, js jetstream.JetStream, stream, filter string) int {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// waitRunning waits until the builder's heartbeat reports a build of exp.
func waitRunning(t *testing.T, js jetstream.JetStream, exp string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		hbs, err := status.Builders(context.Background(), js)
		if err != nil {
			t.Fatal(err)
		}
		for _, hb := range hbs {
			for _, rb := range hb.Running {
				if rb.Experiment == exp {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no heartbeat reported a build of %s within 10s", exp)
}

// Delete refuses while a build runs, naming it and --force; with force it
// stops the build and removes everything of the experiment that lives in
// NATS, and nothing of another experiment.
func TestDeleteRefusesRunningThenForceRemovesEverything(t *testing.T) {
	f := startLifecycleFarm(t, Config{HeartbeatEvery: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.create(t, "del", 0, "cfg-if,itoa")
	// One build finishes: a result, its log and its upload request are on
	// the streams (no uploader runs here).
	f.started(t)
	f.r.gate <- struct{}{}
	if r := f.result(t); r.Experiment != "del" {
		t.Fatalf("result of %s", r.BuildKey)
	}
	f.started(t) // the second build runs now
	waitRunning(t, f.js, "del")
	f.create(t, "keep", 0, "either")
	// The reporter's progress entry and a dead letter of del.
	pkv, err := f.js.KeyValue(ctx, streams.ProgressBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pkv.Put(ctx, "del", []byte(`{"v":1,"experiment":"del","done":1}`)); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]string{"experiment": "del"})
	if _, err := f.js.PublishMsg(ctx, streams.NewDeadMsg("ejecta.results.del.x", data, streams.ResultsStream, 1, errors.New("test"), "reporter")); err != nil {
		t.Fatal(err)
	}
	// A dead letter filed before dead subjects named their sender.
	legacy := streams.ExperimentDeadFilters("del")[1]
	if _, err := f.js.Publish(ctx, legacy, data); err != nil {
		t.Fatal(err)
	}
	filters := map[string]string{
		streams.JobsStream:    streams.ExperimentJobsFilter("del"),
		streams.ResultsStream: streams.ExperimentResultsFilter("del"),
		streams.LogsStream:    streams.ExperimentLogsFilter("del"),
		streams.UploadsStream: streams.ExperimentUploadsFilter("del"),
		streams.DeadStream:    streams.ExperimentDeadFilters("del")[0],
	}
	for stream, filter := range filters {
		if streamCount(t, f.js, stream, filter) == 0 {
			t.Fatalf("before delete: nothing of del on %s to delete", stream)
		}
	}

	_, err = f.p.Delete(ctx, "del", false)
	var ie *producer.InvalidError
	if !errors.Is(err, producer.ErrBuildsRunning) || !errors.As(err, &ie) {
		t.Fatalf("delete while a build runs: %v, want an input error %v", err, producer.ErrBuildsRunning)
	}
	for _, want := range []string{"experiment del: builds running (1): del/", "attempt 1 on life", "experiment abort del", "--force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if st, err := status.Get(ctx, f.js, "del"); err != nil || st.Experiment.State != "" {
		t.Errorf("after a refused delete: status %+v, %v; want del untouched", st, err)
	}

	out, err := f.p.Delete(ctx, "del", true)
	if err != nil {
		t.Fatalf("delete --force: %v", err)
	}
	// The queued jobs went with the abort; the stopped build's log asked
	// for its upload like the finished one's.
	if !out.Aborted || out.Messages[streams.ResultsStream] != 1 || out.Messages[streams.DeadStream] != 2 ||
		out.Messages[streams.UploadsStream] != 2 || out.Messages[streams.LogsStream] == 0 {
		t.Errorf("delete --force: %+v", out)
	}
	for stream, filter := range filters {
		if n := streamCount(t, f.js, stream, filter); n != 0 {
			t.Errorf("after delete: %d messages of del on %s", n, stream)
		}
	}
	if n := streamCount(t, f.js, streams.DeadStream, legacy); n != 0 {
		t.Errorf("after delete: %d dead letters of del on %s", n, legacy)
	}
	for _, tc := range []string{"stable", "nightly"} {
		if _, err := f.js.Consumer(ctx, streams.JobsStream, streams.JobsConsumer("del", tc)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer of del on %s: %v, want it deleted", tc, err)
		}
	}
	for bucket, kvName := range map[string]string{"experiments": streams.ExperimentsBucket, "progress": streams.ProgressBucket} {
		kv, err := f.js.KeyValue(ctx, kvName)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, "del"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("%s entry of del: %v, want none", bucket, err)
		}
	}
	if _, err := status.Get(ctx, f.js, "del"); !errors.Is(err, status.ErrUnknownExperiment) {
		t.Errorf("status after delete: %v, want %v", err, status.ErrUnknownExperiment)
	}
	if _, err := f.p.Delete(ctx, "del", false); !errors.Is(err, producer.ErrUnknownExperiment) {
		t.Errorf("delete again: %v, want %v", err, producer.ErrUnknownExperiment)
	}

	// The other experiment keeps its jobs and is built next.
	if st, err := status.Get(ctx, f.js, "keep"); err != nil || st.Queued+st.Running != 2 {
		t.Errorf("keep after deleting del: %+v, %v; want its 2 jobs", st, err)
	}
	f.started(t)
	f.r.gate <- struct{}{}
	if r := f.result(t); r.Experiment != "keep" {
		t.Errorf("after delete built %s", r.BuildKey)
	}
	// The name is free again.
	f.create(t, "del", 0, "either")
}
