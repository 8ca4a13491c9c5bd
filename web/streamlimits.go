package web

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Which cap refused a stream, as the refused-streams counter labels it.
const (
	capServer = "server"
	capClient = "client"
)

// streamRetryAfter is what a refused stream is told to wait before it
// tries again: streams end when their build does, or at the lifetime, so
// slots come free within seconds on a busy server. The log page's script
// waits as long (retrySeconds in log.js).
const streamRetryAfter = 5 * time.Second

// streamSlots caps the log event streams open at once, in all and per
// client. Each stream holds a connection, a goroutine and an ordered
// consumer on the NATS server, so a client that opens them in a loop must
// run out of slots long before the server runs out of any of those.
type streamSlots struct {
	max, perClient int
	met            *webMetrics

	mu       sync.Mutex
	open     int
	byClient map[string]int
}

func newStreamSlots(max, perClient int, met *webMetrics) *streamSlots {
	return &streamSlots{max: max, perClient: perClient, met: met, byClient: map[string]int{}}
}

// take takes a slot for a stream of client and returns the function that
// gives it back; or, when a cap is full, which one (capServer, capClient).
func (s *streamSlots) take(client string) (release func(), full string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.open >= s.max:
		full = capServer
	case s.byClient[client] >= s.perClient:
		full = capClient
	}
	if full != "" {
		s.met.refused.WithLabelValues(full).Inc()
		return nil, full
	}
	s.open++
	s.byClient[client]++
	s.met.streams.Inc()
	var once sync.Once
	return func() { once.Do(func() { s.give(client) }) }, ""
}

func (s *streamSlots) give(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.byClient[client]--; s.byClient[client] == 0 {
		delete(s.byClient, client)
	}
	s.met.streams.Dec()
}

// limitStreams serves h, an event stream, only while the caps allow one
// more; past them it answers 429 with a Retry-After and says which cap.
func (s *Server) limitStreams(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientAddr(r, s.cfg.TrustForwardedFor)
		release, full := s.slots.take(client)
		if full != "" {
			// Debug: a client in a loop would flood the log; the refused
			// streams counter is what an operator watches.
			s.log.Debug().Str("client", client).Str("cap", full).Msg("log stream refused")
			w.Header().Set("Retry-After", strconv.Itoa(int(streamRetryAfter.Seconds())))
			msg := fmt.Sprintf("too many log streams open on this server (at most %d at once)", s.slots.max)
			if full == capClient {
				msg = fmt.Sprintf("too many log streams open from %s (at most %d per client)", client, s.slots.perClient)
			}
			http.Error(w, msg+"; close other log pages or try again in "+streamRetryAfter.String(), http.StatusTooManyRequests)
			return
		}
		defer release()
		h(w, r)
	})
}

// clientAddr is what a request counts against for the per-client cap: the
// address of the connection's peer or, with trustForwarded, the address
// the reverse proxy in front of the server appended to X-Forwarded-For.
// An IPv6 client counts by its /64, the block one host is usually given,
// so that it does not get a fresh allowance from each address in it.
func clientAddr(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if a, ok := lastForwardedFor(r.Header); ok {
			return clientKey(a)
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr // not an IP connection: the one key it has
	}
	return clientKey(ap.Addr())
}

func clientKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// lastForwardedFor is the last address in X-Forwarded-For: the one the
// proxy in front of this server added. Every entry before it came with the
// request and may be made up.
func lastForwardedFor(h http.Header) (netip.Addr, bool) {
	vals := h.Values("X-Forwarded-For")
	if len(vals) == 0 {
		return netip.Addr{}, false
	}
	entries := strings.Split(vals[len(vals)-1], ",")
	last := strings.TrimSpace(entries[len(entries)-1])
	if a, err := netip.ParseAddr(last); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(last); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}
