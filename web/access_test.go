package web_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ejecta-build/ejecta/buildlog/buildlogtest"
	"github.com/ejecta-build/ejecta/metrics"
	"github.com/ejecta-build/ejecta/web"
)

const token = "0123456789abcdef-test-token"

// noRedirects is a client that shows a redirect rather than following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestAccessToken asks a server that has an access token for pages, a log
// stream, an asset and /metrics with no token, a wrong one and the right
// one, as a header, a ?token= and the cookie that a first visit with
// ?token= sets.
func TestAccessToken(t *testing.T) {
	e := start(t, web.Config{AccessToken: token, Metrics: metrics.NewRegistry()})
	putExperiment(t, e.js, "e1")
	buildlogtest.NewLog(t, e.js, build, 1).Write("compiling\n")

	// A first visit with the token: the cookie, and the same URL without it.
	resp := do(t, "GET", e.url+"/experiments/e1?token="+token+"&x=1", nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ejecta_token" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/experiments/e1?x=1" || cookie == nil {
		t.Fatalf("first visit: %d, Location %q, cookies %v; want 303 to /experiments/e1?x=1 with a cookie", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || strings.Contains(cookie.Value, token) {
		t.Errorf("cookie %s: want HttpOnly, SameSite=Strict, Path=/, not the token itself", resp.Header.Get("Set-Cookie"))
	}
	bearer := http.Header{"Authorization": {"Bearer " + token}}
	withCookie := http.Header{"Cookie": {cookie.String()}}

	for _, tc := range []struct {
		name   string
		path   string
		header http.Header
		status int
		want   string // in the body
	}{
		{"page, no token", "/", nil, 401, "needs its access token"},
		{"log page, no token", logPath, nil, 401, "needs its access token"},
		{"log stream, no token", logPath + "/events", nil, 401, "needs its access token"},
		{"raw log, no token", logPath + "/raw", nil, 401, "needs its access token"},
		{"asset, no token", "/assets/log.js", nil, 401, "needs its access token"},
		{"metrics, no token", "/metrics", nil, 401, "needs its access token"},
		{"wrong bearer", "/metrics", http.Header{"Authorization": {"Bearer " + token + "x"}}, 401, "the token in the Authorization header is wrong"},
		{"basic auth", "/", http.Header{"Authorization": {"Basic " + token}}, 401, "the token in the Authorization header is wrong"},
		{"wrong ?token=", "/?token=" + token[1:], nil, 401, "the ?token= given is wrong"},
		{"wrong cookie", "/", http.Header{"Cookie": {"ejecta_token=" + token}}, 401, "needs its access token"},
		{"page, bearer", "/", bearer, 200, `<a href="/experiments/e1">e1</a>`},
		{"raw log, bearer", logPath + "/raw", bearer, 200, "compiling\n"},
		{"metrics, bearer", "/metrics", bearer, 200, "ejecta_web_requests_total"},
		{"page, cookie", "/experiments/e1", withCookie, 200, "cfg-if"},
		{"log stream, cookie", logPath + "/events", withCookie, 200, "compiling"},
		{"metrics, cookie", "/metrics", withCookie, 200, "ejecta_web_log_streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, "GET", e.url+tc.path, tc.header)
			body := readSome(t, resp)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.want)
			}
			if tc.status == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="ejecta"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if len(resp.Cookies()) != 0 {
					t.Errorf("refused, yet a cookie: %v", resp.Cookies())
				}
			}
		})
	}
}

// TestAccessTokenFirstVisitRedirects checks where a first visit with the
// token is sent: the same page, on this server, without the token; from
// another site's link through a page of this origin, because the browser
// would not send a SameSite=Strict cookie along a redirect there.
func TestAccessTokenFirstVisitRedirects(t *testing.T) {
	e := start(t, web.Config{AccessToken: token})
	for _, tc := range []struct {
		name, path, site string
		status           int
		location, body   string
	}{
		{"root", "/?token=" + token, "", 303, "/", ""},
		{"log page", logPath + "?token=" + token, "none", 303, logPath, ""},
		{"escaped path", "/logs/e1/a%2Fb?token=" + token + "&q=%3C", "same-origin", 303, "/logs/e1/a%2Fb?q=%3C", ""},
		{"another host's path", "//evil.example/x?token=" + token, "", 303, "/", ""},
		{"from another site", logPath + "?token=" + token + "&a=1&b=2", "cross-site", 200, "",
			`<meta http-equiv="refresh" content="0; url=` + logPath + `?a=1&amp;b=2">`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.site != "" {
				h.Set("Sec-Fetch-Site", tc.site)
			}
			resp := do(t, "GET", e.url+tc.path, h)
			body := readSome(t, resp)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location || !strings.Contains(body, tc.body) {
				t.Fatalf("%d, Location %q, %q; want %d, %q, %q", resp.StatusCode, resp.Header.Get("Location"), body, tc.status, tc.location, tc.body)
			}
			if !strings.Contains(resp.Header.Get("Set-Cookie"), "ejecta_token=") {
				t.Errorf("no cookie: %q", resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

// TestAccessTokenFile reads tokens from files as `ejecta web
// --access-token-file` does: the white space around is dropped; a token
// short enough to guess, or one with spaces, is refused.
func TestAccessTokenFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text, want, wantErr string
	}{
		{"newline", token + "\n", token, ""},
		{"short", "secret\n", "", "6 bytes, want at least 16"},
		{"empty", "\n", "", "0 bytes, want at least 16"},
		{"space inside", "0123456789 abcdef", "", "printable ASCII without spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := web.ReadTokenFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err %v, want one naming %s: %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := web.ReadTokenFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if err := (web.Config{Addr: ":0", AccessToken: "short"}).Validate(); err == nil || !strings.Contains(err.Error(), "access token: 5 bytes") {
		t.Errorf("short token in Config: %v", err)
	}
}

// do sends one request without following redirects; the body is closed at
// the end of the test.
func do(t *testing.T, method, url string, h http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readSome reads a body, or the first 64 KiB of an endless one (a log
// stream).
func readSome(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		buf := make([]byte, 4096)
		var got strings.Builder
		for !strings.Contains(got.String(), "event: lines") {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return got.String()
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The cookie a browser gets is Secure when the UI is reached over HTTPS:
// served with TLS, or behind a TLS reverse proxy, which --cookie-secure
// says, or which says so itself (X-Forwarded-Proto) when it is trusted
// with --trust-forwarded-for. Before, behind a proxy the cookie was never
// Secure, and a browser would send it over plain HTTP too.
func TestCookieSecureBehindAProxy(t *testing.T) {
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, tc := range []struct {
		name   string
		cfg    web.Config
		header http.Header
		secure bool
	}{
		{"plain HTTP", web.Config{}, nil, false},
		{"--cookie-secure", web.Config{CookieSecure: true}, nil, true},
		{"a trusted proxy says https", web.Config{TrustForwardedFor: true}, https, true},
		{"a trusted proxy says http", web.Config{TrustForwardedFor: true}, http.Header{"X-Forwarded-Proto": {"https, http"}}, false},
		{"no proxy is trusted", web.Config{}, https, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AccessToken = token
			e := start(t, tc.cfg)
			resp := do(t, "GET", e.url+"/?token="+token, tc.header)
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == "ejecta_token" {
					cookie = c
				}
			}
			if cookie == nil || cookie.Secure != tc.secure {
				t.Errorf("cookie %q: want Secure %v", resp.Header.Get("Set-Cookie"), tc.secure)
			}
		})
	}
}
