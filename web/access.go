package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/rs/zerolog"
)

// tokenCookie is where a browser keeps its proof of the access token once
// it has visited with ?token=. The cookie holds a value derived from the
// token, not the token: it opens the UI but is no bearer token for
// scripts, and a new token voids every cookie of the old one.
const tokenCookie = "ejecta_token"

// minTokenBytes is the shortest access token accepted: 128 bits written in
// hex, say.
const minTokenBytes = 16

// maxTokenFileBytes bounds what is read of a token file.
const maxTokenFileBytes = 4 << 10

// ReadTokenFile reads an access token from path: the file's text without
// the white space around it, checked as Config.Validate checks it. A file
// keeps the token out of the process list and the environment.
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("access token: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("access token: read %s: %w", path, err)
	}
	if len(b) > maxTokenFileBytes {
		return "", fmt.Errorf("access token in %s: longer than %d bytes", path, maxTokenFileBytes)
	}
	tok := strings.TrimSpace(string(b))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("access token in %s: %w", path, err)
	}
	return tok, nil
}

// checkToken says what is wrong with an access token: it must be long
// enough not to be guessed, and printable ASCII without spaces so that it
// passes unchanged in a header, a URL and a file.
func checkToken(tok string) error {
	if len(tok) < minTokenBytes {
		return fmt.Errorf("%d bytes, want at least %d (e.g. openssl rand -hex 32)", len(tok), minTokenBytes)
	}
	for _, c := range []byte(tok) {
		if c <= ' ' || c > '~' {
			return errors.New("want printable ASCII without spaces")
		}
	}
	return nil
}

// RequireToken returns a middleware that lets a request through only if it
// carries token: in an "Authorization: Bearer" header (scripts,
// Prometheus), or in the cookie a browser gets by opening any page once
// with ?token=, which is answered with the cookie and a redirect to the same
// URL without the token. Tokens are compared in constant time. An empty
// token lets every request through.
func RequireToken(token string, log zerolog.Logger, opts ...TokenOption) func(http.Handler) http.Handler {
	if token == "" {
		return func(h http.Handler) http.Handler { return h }
	}
	g := &tokenGate{sum: sha256.Sum256([]byte(token)), log: log, secure: func(r *http.Request) bool { return r.TLS != nil }}
	for _, o := range opts {
		o(g)
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("ejecta web UI cookie"))
	g.cookie = hex.EncodeToString(mac.Sum(nil))
	return g.wrap
}

// TokenOption configures RequireToken.
type TokenOption func(*tokenGate)

// SecureCookieIf marks the cookie Secure (sent over HTTPS only) when
// overHTTPS says the request that signs in came over HTTPS; by default,
// when it came over TLS, which a server behind a TLS reverse proxy never
// sees.
func SecureCookieIf(overHTTPS func(*http.Request) bool) TokenOption {
	return func(g *tokenGate) { g.secure = overHTTPS }
}

type tokenGate struct {
	sum    [sha256.Size]byte // of the token: comparing hashes takes the same time whatever the length given
	cookie string            // the value of tokenCookie that proves the token
	log    zerolog.Logger
	secure func(*http.Request) bool
}

func (g *tokenGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serve(w, r, next) })
}

func (g *tokenGate) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, cred, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || !g.isToken(strings.TrimSpace(cred)) {
			g.refuse(w, r, "the token in the Authorization header is wrong")
			return
		}
		next.ServeHTTP(w, r)
		return
	}
	if q := r.URL.Query(); q.Has("token") {
		if !g.isToken(q.Get("token")) {
			g.refuse(w, r, "the ?token= given is wrong")
			return
		}
		g.signIn(w, r)
		return
	}
	if c, err := r.Cookie(tokenCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(g.cookie)) == 1 {
		next.ServeHTTP(w, r)
		return
	}
	g.refuse(w, r, "")
}

func (g *tokenGate) isToken(s string) bool {
	sum := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1
}

// signIn gives a browser that came with the right ?token= its cookie and
// sends it on to the same URL without the token, which then stays out of
// its history, its address bar and the logs of proxies.
func (g *tokenGate) signIn(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookie, Value: g.cookie, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: g.secure(r),
	})
	w.Header().Set("Cache-Control", "no-store")
	to := withoutToken(r)
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		// Followed from a link on another site, the browser counts the
		// whole navigation as cross-site, redirects included, and would not
		// send a SameSite=Strict cookie with the next request. A page of
		// this origin that moves on starts a same-site one.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		u := template.HTMLEscapeString(to)
		fmt.Fprintf(w, "<!doctype html>\n<meta http-equiv=\"refresh\" content=\"0; url=%s\">\n<title>ejecta</title>\n<p><a href=\"%s\">Continue</a></p>\n", u, u)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// withoutToken is r's path and query without the token parameter. A path
// that a browser would read as another host's ("//host/...") becomes "/".
func withoutToken(r *http.Request) string {
	q := r.URL.Query()
	q.Del("token")
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// refuse answers 401, saying how to give the token; wrong says what was
// wrong with a token that was given ("": none was).
func (g *tokenGate) refuse(w http.ResponseWriter, r *http.Request, wrong string) {
	if wrong != "" {
		g.log.Warn().Str("remote", r.RemoteAddr).Str("path", r.URL.Path).Str("why", wrong).Msg("wrong access token")
		wrong += "; "
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ejecta"`)
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, wrong+"this ejecta web UI needs its access token: open any page once with ?token=TOKEN "+
		"(the browser then keeps a cookie), or send the header 'Authorization: Bearer TOKEN'", http.StatusUnauthorized)
}
