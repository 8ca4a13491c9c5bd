package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/streams"
)

// scrapeTimeout bounds the JetStream API calls of one scrape: a scrape that
// hangs on an unreachable server would hide every other metric.
const scrapeTimeout = 5 * time.Second

var (
	upDesc = prometheus.NewDesc("ejecta_jetstream_up",
		"1 if the last scrape read every ejecta stream, consumer and bucket from JetStream, 0 if any lookup failed.", nil, nil)
	streamMsgsDesc = prometheus.NewDesc("ejecta_stream_messages",
		"Messages stored in an ejecta stream.", []string{"stream"}, nil)
	streamBytesDesc = prometheus.NewDesc("ejecta_stream_bytes",
		"Bytes stored in an ejecta stream.", []string{"stream"}, nil)
	streamMaxBytesDesc = prometheus.NewDesc("ejecta_stream_max_bytes",
		"The byte limit of an ejecta stream (streams with no limit have no series): a full logs stream holds builds' output, a full results stream their results.", []string{"stream"}, nil)
	streamLastSeqDesc = prometheus.NewDesc("ejecta_stream_last_sequence",
		"Sequence of the last message stored in an ejecta stream: how many messages it has taken in, duplicates excluded.", []string{"stream"}, nil)
	consumerPendingDesc = prometheus.NewDesc("ejecta_consumer_pending",
		"Messages a durable ejecta consumer has not delivered yet.", []string{"stream", "consumer"}, nil)
	consumerAckPendingDesc = prometheus.NewDesc("ejecta_consumer_ack_pending",
		"Messages a durable ejecta consumer delivered that are not acknowledged yet (jobs building, logs uploading).", []string{"stream", "consumer"}, nil)
	consumerRedeliveredDesc = prometheus.NewDesc("ejecta_consumer_redelivered",
		"Messages of a durable ejecta consumer delivered more than once and not acknowledged yet.", []string{"stream", "consumer"}, nil)
	consumerWaitingDesc = prometheus.NewDesc("ejecta_consumer_waiting_pulls",
		"Pull requests waiting on a durable ejecta consumer (idle builder slots, idle uploaders).", []string{"stream", "consumer"}, nil)
	kvValuesDesc = prometheus.NewDesc("ejecta_kv_values",
		"Values stored in an ejecta KV bucket.", []string{"bucket"}, nil)
	kvBytesDesc = prometheus.NewDesc("ejecta_kv_bytes",
		"Bytes stored in an ejecta KV bucket.", []string{"bucket"}, nil)
)

// JetStream is a prometheus.Collector that asks the server, at every
// scrape, for the state of every stream (streams.Streams), every durable
// consumer on them and every bucket (streams.Buckets). Ephemeral consumers
// (tails, the reporter's ordered consumer) come and go under random names
// and are left out.
type JetStream struct {
	js  jetstream.JetStream
	log zerolog.Logger
}

// NewJetStream returns a collector reading through js.
func NewJetStream(js jetstream.JetStream, log zerolog.Logger) *JetStream {
	return &JetStream{js: js, log: log}
}

// Describe implements prometheus.Collector.
func (c *JetStream) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, streamMsgsDesc, streamBytesDesc, streamMaxBytesDesc, streamLastSeqDesc,
		consumerPendingDesc, consumerAckPendingDesc, consumerRedeliveredDesc, consumerWaitingDesc,
		kvValuesDesc, kvBytesDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *JetStream) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ok := true
	for _, name := range streams.Streams() {
		if err := c.collectStream(ctx, ch, name); err != nil {
			c.log.Warn().Err(err).Str("stream", name).Msg("metrics: read stream state")
			ok = false
		}
	}
	for _, name := range streams.Buckets() {
		if err := c.collectBucket(ctx, ch, name); err != nil {
			c.log.Warn().Err(err).Str("bucket", name).Msg("metrics: read bucket state")
			ok = false
		}
	}
	up := 0.0
	if ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
}

func (c *JetStream) collectStream(ctx context.Context, ch chan<- prometheus.Metric, name string) error {
	s, err := c.js.Stream(ctx, name)
	if err != nil {
		return err
	}
	info := s.CachedInfo()
	st := info.State
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(streamMsgsDesc, float64(st.Msgs), name)
	gauge(streamBytesDesc, float64(st.Bytes), name)
	gauge(streamLastSeqDesc, float64(st.LastSeq), name)
	if info.Config.MaxBytes > 0 {
		gauge(streamMaxBytesDesc, float64(info.Config.MaxBytes), name)
	}
	infos := s.ListConsumers(ctx)
	for ci := range infos.Info() {
		if ci.Config.Durable == "" {
			continue
		}
		gauge(consumerPendingDesc, float64(ci.NumPending), name, ci.Name)
		gauge(consumerAckPendingDesc, float64(ci.NumAckPending), name, ci.Name)
		gauge(consumerRedeliveredDesc, float64(ci.NumRedelivered), name, ci.Name)
		gauge(consumerWaitingDesc, float64(ci.NumWaiting), name, ci.Name)
	}
	return infos.Err()
}

func (c *JetStream) collectBucket(ctx context.Context, ch chan<- prometheus.Metric, name string) error {
	kv, err := c.js.KeyValue(ctx, name)
	if err != nil {
		return err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(kvValuesDesc, prometheus.GaugeValue, float64(st.Values()), name)
	ch <- prometheus.MustNewConstMetric(kvBytesDesc, prometheus.GaugeValue, float64(st.Bytes()), name)
	return nil
}
