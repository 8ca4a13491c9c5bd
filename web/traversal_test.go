package web_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/streams"
	"github.com/ejecta-build/ejecta/web"
)

// Requests that try to climb out of an experiment's report, or out of the
// store, get a client error, at once or after a redirect to the cleaned
// path, never the
// file: not the host's /etc/passwd, not another experiment's objects. The
// requests are written on the socket as they are, since an HTTP client
// would clean their paths first.
func TestPathTraversalRefused(t *testing.T) {
	e := start(t, web.Config{})
	putExperiment(t, e.js, "e1")
	ctx := context.Background()
	for key, text := range map[string]string{
		streams.ExperimentPrefix("e1") + "index.html": "the report of e1",
		streams.ExperimentPrefix("e2") + "secret.txt": "e2's secret",
	} {
		if err := e.st.Put(ctx, key, strings.NewReader(text), int64(len(text)), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := get(t, e.url+"/experiments/e1/report/index.html"); body != "the report of e1" {
		t.Fatalf("the report itself: %q", body)
	}
	host := strings.TrimPrefix(e.url, "http://")
	for _, p := range []string{
		"/experiments/e1/report/../../../../../../etc/passwd",
		"/experiments/e1/report/..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/experiments/e1/report/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/experiments/e1/report/..%5c..%5c..%5cetc%5cpasswd",
		"/experiments/e1/report/../e2/secret.txt",
		"/experiments/e1/report/..%2fe2%2fsecret.txt",
		"/experiments/e1/report//etc/passwd",
		"/experiments/e1/report/%2fetc%2fpasswd",
		"/experiments/..%2f..%2fetc/report/passwd",
		"/experiments/e2/report/secret.txt%00.html",
		"/assets/../../../../etc/passwd",
		"/assets/..%2f..%2f..%2fetc%2fpasswd",
		"/logs/..%2f..%2fetc/passwd/1.0.0/stable/1/raw",
		"/logs/e1/..%2f..%2f..%2fetc%2fpasswd/1.0.0/stable/1/raw",
	} {
		t.Run(url.PathEscape(p), func(t *testing.T) {
			status, loc, body := rawGet(t, host, p)
			if status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect {
				// The mux cleans the path: follow it as a browser would.
				if strings.Contains(loc, "..") {
					t.Errorf("redirected to %q", loc)
				}
				status, _, body = rawGet(t, host, loc)
			}
			if status != http.StatusBadRequest && status != http.StatusNotFound {
				t.Errorf("status %d, want 400 or 404\n%s", status, body)
			}
			if strings.Contains(body, "root:") || strings.Contains(body, "e2's secret") {
				t.Errorf("served a file outside the report:\n%s", body)
			}
		})
	}
}

// rawGet sends a GET for path exactly as written and returns the status,
// the Location header and the body.
func rawGet(t *testing.T, host, path string) (int, string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	io.Copy(&body, resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), body.String()
}
