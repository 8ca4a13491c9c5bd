package web_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/metrics/metricstest"
	"github.com/ejecta-build/ejecta/web"
)

// clientFrom is an HTTP client whose connections come from address ip,
// another loopback address standing in for another machine.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// stream is one request for a log's event stream.
type stream struct {
	status     int
	retryAfter string
	body       string // of a refusal
	resp       *http.Response
}

// openStream opens the event stream of the test log through c, with the
// given X-Forwarded-For ("": none). An open stream's body is left to be
// read or closed.
func openStream(t *testing.T, c *http.Client, url, forwardedFor string) stream {
	t.Helper()
	req, _ := http.NewRequest("GET", url+logPath+"/events", nil)
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	s := stream{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), resp: resp}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.body = string(b)
		return s
	}
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// TestStreamCaps opens log streams from two client addresses against a
// server that allows 3 at once and 2 per client: past either cap a stream
// is refused with 429, a Retry-After and a body that says which cap; a
// stream that ends gives its slot back; /metrics counts both.
func TestStreamCaps(t *testing.T) {
	e := start(t, web.Config{MaxStreams: 3, MaxStreamsPerClient: 2, Metrics: metrics.NewRegistry()})
	buildlogtest.NewLog(t, e.js, build, 1).Write("compiling\n")
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")

	mustOpen := func(c *http.Client) stream {
		t.Helper()
		s := openStream(t, c, e.url, "")
		if s.status != http.StatusOK {
			t.Fatalf("stream refused: %d %q", s.status, s.body)
		}
		return s
	}
	mustRefuse := func(c *http.Client, want string) {
		t.Helper()
		s := openStream(t, c, e.url, "")
		if s.status != http.StatusTooManyRequests || s.retryAfter != "5" || !strings.Contains(s.body, want) {
			t.Fatalf("stream: %d, Retry-After %q, %q; want 429, Retry-After 5, %q", s.status, s.retryAfter, s.body, want)
		}
	}
	a1 := mustOpen(a)
	mustOpen(a)
	mustRefuse(a, "too many log streams open from 127.0.0.1 (at most 2 per client)")
	mustOpen(b)
	mustRefuse(b, "too many log streams open on this server (at most 3 at once)")

	fams := metricstest.Scrape(t, e.url+"/metrics")
	for _, c := range []struct {
		labels []string
		want   float64
	}{{[]string{"limit", "client"}, 1}, {[]string{"limit", "server"}, 1}} {
		if v := fams.Must(t, "ejecta_web_log_streams_refused_total", c.labels...); v != c.want {
			t.Errorf("ejecta_web_log_streams_refused_total%v = %v, want %v", c.labels, v, c.want)
		}
	}
	if v := fams.Must(t, "ejecta_web_log_streams"); v != 3 {
		t.Errorf("ejecta_web_log_streams = %v, want 3", v)
	}

	// A page closed: its slot is free again, for any client.
	a1.resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := openStream(t, b, e.url, "")
		if s.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot 5s after a stream closed: %d %q", s.status, s.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustRefuse(a, "at most 3 at once")
}

// TestStreamCapsForwardedFor checks whose address a stream counts against:
// the connection's, whatever X-Forwarded-For says, unless the server is
// told to trust it; then the last entry, the one the proxy appended, not
// one the client wrote before it.
func TestStreamCapsForwardedFor(t *testing.T) {
	for _, tc := range []struct {
		trust bool
		// statuses of streams forwarded for 10.0.0.1, 10.0.0.2, and one
		// whose client claims 10.0.0.3 before the proxy's 10.0.0.1
		want [3]int
		body string // of the refusal
	}{
		{false, [3]int{200, 429, 429}, "from 127.0.0.1 "},
		{true, [3]int{200, 200, 429}, "from 10.0.0.1 "},
	} {
		t.Run(map[bool]string{false: "untrusted", true: "trusted"}[tc.trust], func(t *testing.T) {
			e := start(t, web.Config{MaxStreamsPerClient: 1, TrustForwardedFor: tc.trust})
			buildlogtest.NewLog(t, e.js, build, 1).Write("compiling\n")
			for i, xff := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3, 10.0.0.1"} {
				s := openStream(t, http.DefaultClient, e.url, xff)
				if s.status != tc.want[i] || (s.status == 429 && !strings.Contains(s.body, tc.body)) {
					t.Errorf("X-Forwarded-For %s: %d %q, want %d (%q)", xff, s.status, s.body, tc.want[i], tc.body)
				}
			}
		})
	}
}
