package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/bench/measure"
	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// Tail measures live log latency, from a line's publish (as a builder
// publishes a chunk) to its arrival: written by logtail's following Copy
// (what `ejecta tail -f` prints), and delivered to a browser over the web
// UI's Server-Sent Events. The baseline is the same publish arriving at a
// plain JetStream ordered consumer of the subject: the NATS round trip
// both are built on. Lines go one at a time, each after the previous one
// arrived.
func Tail(t testing.TB, full bool) []Row {
	n := 20
	if full {
		n = 500
	}
	f := newFarm(t)
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k := streams.BuildKey{Experiment: "tail", Crate: "cfg-if", Version: "1.0.0", Toolchain: "nightly"}

	// Baseline: an ordered consumer of attempt 1's subject.
	seen := make(chan int, 16)
	oc, err := f.js.OrderedConsumer(ctx, streams.LogsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.LogSubject(k, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) { lineNumbers(string(m.Data()), seen) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	rtt := latencies(t, buildlogtest.NewLog(t, f.js, k, 1), n, seen)

	// `ejecta tail -f`: logtail.Copy following attempt 2.
	cli := make(chan int, 16)
	go logtail.New(f.js, st).Copy(ctx, k, 2, writerFunc(func(p []byte) { lineNumbers(string(p), cli) }), logtail.Options{Follow: true})
	tail := latencies(t, buildlogtest.NewLog(t, f.js, k, 2), n, cli)

	// The web UI: Server-Sent Events of attempt 3's log page.
	srv, err := web.New(web.Config{Addr: ":0"}, f.js, st, quiet(t))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	sse := make(chan int, 16)
	log3 := buildlogtest.NewLog(t, f.js, k, 3)
	log3.Write("line -1\n") // the page exists once the log has a first chunk
	url := fmt.Sprintf("%s/logs/%s/%s/%s/%s/3/events", hs.URL, k.Experiment, k.Crate, k.Version, k.Toolchain)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", url, resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lineNumbers(data, sse)
			}
		}
	}()
	sseLat := latencies(t, log3, n, sse)

	row := func(what string, lat []time.Duration) Row {
		p99 := measure.Quantile(lat, 0.99)
		return Row{
			Figure:   fmt.Sprintf("live tail latency, publish → %s (%d lines)", what, n),
			Ejecta:   fmt.Sprintf("p50 %s, p99 %s", round(measure.Median(lat)), round(p99)),
			Baseline: fmt.Sprintf("p50 %s, p99 %s JetStream publish → ordered consumer", round(measure.Median(rtt)), round(measure.Quantile(rtt, 0.99))),
			Ratio:    ratio(float64(p99), float64(measure.Quantile(rtt, 0.99))) + " at p99",
			Goal:     "p99 ≤ 100 ms",
			Verdict:  judge(full, p99 <= 100*time.Millisecond),
		}
	}
	return []Row{row("`ejecta tail -f` (logtail.Copy)", tail), row("web UI over SSE", sseLat)}
}

var lineRE = regexp.MustCompile(`line (-?\d+)`)

// lineNumbers sends the number of every "line N" in s.
func lineNumbers(s string, ch chan<- int) {
	for _, m := range lineRE.FindAllStringSubmatch(s, -1) {
		if i, err := strconv.Atoi(m[1]); err == nil {
			ch <- i
		}
	}
}

// latencies writes n numbered lines to log one at a time and returns, for
// each, the time from its publish to its number arriving on seen.
func latencies(t testing.TB, log *buildlogtest.Log, n int, seen <-chan int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for i := range n {
		sent := time.Now()
		log.Write(fmt.Sprintf("line %d\n", i))
		for got := -2; got != i; {
			select {
			case got = <-seen:
			case <-time.After(10 * time.Second):
				t.Fatalf("line %d of %s not delivered within 10s", i, log.Build)
			}
		}
		out = append(out, time.Since(sent))
		time.Sleep(2 * time.Millisecond) // a chatty build, not a flood
	}
	return out
}

// writerFunc is an io.Writer calling a function.
type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}

func round(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
