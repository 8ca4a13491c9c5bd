package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/store"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

//go:embed assets templates
var files embed.FS

// Config configures the web UI.
type Config struct {
	// Addr is the listen address, e.g. ":8080".
	Addr string
	// KeepAlive is the period of SSE comment pings, so that proxies and
	// browsers do not drop a quiet stream (default 15s).
	KeepAlive time.Duration
	// Poll is how often a log follower checks whether the log moved to the
	// store when no chunk comes (default 2s).
	Poll time.Duration
	// LogWait is how long a request for a log that is neither on the
	// stream nor in the store waits for it to appear, as the log of a build
	// that has just started does, before it is answered with 404 (default
	// 5s).
	LogWait time.Duration
	// MaxStreams caps the log event streams open at once (default 256),
	// MaxStreamsPerClient those from one client address (default 16); a
	// stream past either is refused with 429. Each open stream holds a
	// connection and an ordered consumer on the NATS server. A log range
	// being answered takes a slot too: it reads and renders up to
	// maxRangeBytes of a log, and counts the lines before them; as many
	// are rendered at once as there are CPUs, the others wait.
	MaxStreams, MaxStreamsPerClient int
	// MaxStreamLifetime ends a log event stream after this long (default
	// 30m); the browser reconnects and resumes after the last line it got.
	MaxStreamLifetime time.Duration
	// TrustForwardedFor counts a stream against the address that the
	// reverse proxy in front of the server appended to X-Forwarded-For,
	// rather than against the proxy's own. Only for a server behind such a
	// proxy: without one, a client can write any address there.
	TrustForwardedFor bool
	// CookieSecure marks the cookie a browser gets for the access token
	// Secure, sent over HTTPS only: the UI is served over HTTPS by a
	// reverse proxy in front of it. Without it the cookie is Secure when
	// the request came over TLS, or when, with TrustForwardedFor, the
	// proxy's X-Forwarded-Proto says https.
	CookieSecure bool
	// AccessToken, when set, is required by every route, /metrics
	// included (see RequireToken); empty: the UI is open to whoever reaches
	// Addr.
	AccessToken string
	// Metrics is where the server registers its collectors (metrics.go),
	// and what it serves on /metrics; nil: no /metrics.
	Metrics *prometheus.Registry
	// Health, when set, serves /healthz and /readyz beside the UI, without
	// the access token: probers carry none.
	Health interface{ Route(*http.ServeMux) }
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("http address is empty")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("http address %q: want HOST:PORT or :PORT", c.Addr)
	}
	if c.KeepAlive < 0 || c.Poll < 0 {
		return fmt.Errorf("keep-alive %s, poll %s: want positive durations", c.KeepAlive, c.Poll)
	}
	if c.MaxStreams < 0 {
		return fmt.Errorf("max streams %d: want 1 or more", c.MaxStreams)
	}
	if c.MaxStreamsPerClient < 0 {
		return fmt.Errorf("max streams per client %d: want 1 or more", c.MaxStreamsPerClient)
	}
	if c.MaxStreamLifetime < 0 {
		return fmt.Errorf("max stream lifetime %s: want a positive duration", c.MaxStreamLifetime)
	}
	if c.AccessToken != "" {
		if err := checkToken(c.AccessToken); err != nil {
			return fmt.Errorf("access token: %w", err)
		}
	}
	if c.LogWait < 0 {
		return fmt.Errorf("log wait %s: want a positive duration", c.LogWait)
	}
	return nil
}

// Server serves the UI.
type Server struct {
	cfg    Config
	js     jetstream.JetStream
	st     store.Store
	logs   *logtail.Reader
	pages  map[string]*template.Template
	log    zerolog.Logger
	static http.Handler
	met    *webMetrics
	slots  *streamSlots
	// renders are the log ranges being read and rendered (logrange.go).
	renders chan struct{}
	regs    regressionCache
}

// New returns a server reading NATS through js and stored logs from st.
func New(cfg Config, js jetstream.JetStream, st store.Store, log zerolog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.LogWait == 0 {
		cfg.LogWait = 5 * time.Second
	}
	if cfg.MaxStreamLifetime == 0 {
		cfg.MaxStreamLifetime = 30 * time.Minute
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 256
	}
	if cfg.MaxStreamsPerClient == 0 {
		cfg.MaxStreamsPerClient = 16
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	assets, _ := fs.Sub(files, "assets")
	met, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg: cfg, js: js, st: st, logs: logtail.New(js, st, logtail.WithPoll(cfg.Poll)),
		pages: pages, log: log, static: http.StripPrefix("/assets/", http.FileServerFS(assets)),
		met: met, slots: newStreamSlots(cfg.MaxStreams, cfg.MaxStreamsPerClient, met),
		renders: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}, nil
}

// Handler is the UI's routes behind the security headers and, when one is
// set, the access token.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.experiments)
	mux.HandleFunc("GET /experiments/{exp}", s.experiment)
	mux.HandleFunc("GET /experiments/{exp}/report/{file...}", s.reportFile)
	mux.HandleFunc("GET /builders", s.builders)
	mux.HandleFunc("GET /compare/{a}/{b}", s.compare)
	mux.HandleFunc("GET /experiments/{exp}/search", s.search)
	mux.HandleFunc("GET /logs/{exp}/{crate}/{version}/{toolchain}/{attempt}", s.logPage)
	mux.HandleFunc("GET /logs/{exp}/{crate}/{version}/{toolchain}/{attempt}/raw", s.logRaw)
	mux.Handle("GET /logs/{exp}/{crate}/{version}/{toolchain}/{attempt}/events", s.limitStreams(s.logEvents))
	mux.Handle("GET /logs/{exp}/{crate}/{version}/{toolchain}/{attempt}/range", s.limitStreams(s.logRange))
	mux.Handle("GET /assets/", s.static)
	s.met.route(mux)
	guarded := RequireToken(s.cfg.AccessToken, s.log, SecureCookieIf(s.overHTTPS))(mux)
	if s.cfg.Health == nil {
		return s.met.instrument(secure(guarded))
	}
	outer := http.NewServeMux()
	outer.Handle("/", guarded)
	s.cfg.Health.Route(outer)
	return s.met.instrument(secure(outer))
}

// overHTTPS reports whether r reached the UI over HTTPS: with TLS, or
// through a reverse proxy that serves HTTPS (CookieSecure), or that says
// so in X-Forwarded-Proto when it is trusted.
func (s *Server) overHTTPS(r *http.Request) bool {
	if r.TLS != nil || s.cfg.CookieSecure {
		return true
	}
	if !s.cfg.TrustForwardedFor {
		return false
	}
	// The last value is the one the proxy in front of this server set.
	vals := r.Header.Values("X-Forwarded-Proto")
	if len(vals) == 0 {
		return false
	}
	entries := strings.Split(vals[len(vals)-1], ",")
	return strings.EqualFold(strings.TrimSpace(entries[len(entries)-1]), "https")
}

// secure adds the headers every response carries. The policy allows
// scripts and styles from this origin only: no inline script, no eval.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// Run serves on cfg.Addr until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web ui: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, l)
}

// Serve serves on l until ctx ends; open event streams are cut then.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Every route is a GET; a request still being read after this long
		// is a slow client holding a connection, not a big upload. The
		// deadline ends with the request: an event stream outlives it.
		ReadTimeout:    30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		// No WriteTimeout: it would cut every log event stream at that age.
		// Each event of a stream has a write deadline of its own instead
		// (sse.go), so a reader that stops reading loses its stream.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	s.log.Info().Str("addr", l.Addr().String()).Msg("web ui listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web ui: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx) // event streams end with ctx through BaseContext
	return nil
}
