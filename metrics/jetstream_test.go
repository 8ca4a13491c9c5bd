package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/streams"
)

// TestJetStreamCollector scrapes a registry holding the collector over
// HTTP, as Prometheus does, and checks that it shows what was put on the
// streams: messages and bytes per stream, and an upload request waiting
// for the shared uploaders consumer.
func TestJetStreamCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	key := streams.BuildKey{Experiment: "m1", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}
	chunk := []byte("   Compiling cfg-if v1.0.0\n")
	for seq := uint64(1); seq <= 3; seq++ {
		m := buildlog.NewChunkMsg(streams.LogSubject(key, 1), buildlog.Chunk{Seq: seq, Offset: (seq - 1) * uint64(len(chunk)), Stream: buildlog.StreamStdout, Data: chunk})
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, streams.UploadSubject(key, 1), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewJetStream(js, zerolog.New(zerolog.NewTestWriter(t))))
	web := httptest.NewServer(metrics.Handler(reg))
	defer web.Close()
	// The server counts a consumer's pending messages as it is told of
	// new ones, after the publish is acknowledged: under load a scrape
	// right away can still see 0.
	fams := metricstest.Scrape(t, web.URL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if v, _ := fams.Value("ejecta_consumer_pending", "stream", streams.UploadsStream, "consumer", streams.UploadersConsumer); v == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
		fams = metricstest.Scrape(t, web.URL)
	}

	if up := fams.Must(t, "ejecta_jetstream_up"); up != 1 {
		t.Errorf("ejecta_jetstream_up = %v, want 1", up)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ejecta_stream_messages", []string{"stream", streams.LogsStream}, 3},
		{"ejecta_stream_last_sequence", []string{"stream", streams.LogsStream}, 3},
		{"ejecta_stream_messages", []string{"stream", streams.UploadsStream}, 1},
		{"ejecta_stream_messages", []string{"stream", streams.ResultsStream}, 0},
		{"ejecta_consumer_pending", []string{"stream", streams.UploadsStream, "consumer", streams.UploadersConsumer}, 1},
		{"ejecta_consumer_ack_pending", []string{"stream", streams.UploadsStream, "consumer", streams.UploadersConsumer}, 0},
		{"ejecta_kv_values", []string{"bucket", streams.ExperimentsBucket}, 0},
		{"ejecta_stream_max_bytes", []string{"stream", streams.LogsStream}, float64(streams.DefaultConfig().LogMaxBytes)},
	} {
		if got := fams.Must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Bytes include headers and subjects: more than the chunks' data.
	if b := fams.Must(t, "ejecta_stream_bytes", "stream", streams.LogsStream); b < float64(3*len(chunk)) {
		t.Errorf("ejecta_stream_bytes{EJECTA_LOGS} = %v, want at least %d", b, 3*len(chunk))
	}
	// Every stream and bucket ejecta creates is there.
	for _, s := range streams.Streams() {
		fams.Must(t, "ejecta_stream_messages", "stream", s)
	}
	for _, b := range streams.Buckets() {
		fams.Must(t, "ejecta_kv_bytes", "bucket", b)
	}
	// The Go and process collectors of NewRegistry are there too.
	fams.Must(t, "go_goroutines")
}

// TestJetStreamCollectorServerDown checks that a scrape while the server
// is away still answers, within the scrape timeout, and says so.
func TestJetStreamCollectorServerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	srv.Server.Shutdown()
	srv.Server.WaitForShutdown()

	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewJetStream(js, zerolog.Nop()))
	web := httptest.NewServer(metrics.Handler(reg))
	defer web.Close()
	start := time.Now()
	fams := metricstest.Scrape(t, web.URL)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("scrape with the server down took %s, want at most the 5s scrape timeout and a little", took)
	}
	if up := fams.Must(t, "ejecta_jetstream_up"); up != 0 {
		t.Errorf("ejecta_jetstream_up = %v with the server down, want 0", up)
	}
	fams.Must(t, "go_goroutines")
}
