package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The builder downloads .crate files itself, outside the sandbox, with the
// builder host's network, from wherever the registry's config.json says
// (and wherever that answer redirects). A registry that named an address
// on the builder's own network would have the builder probe it. So the
// client connects only to public addresses, checked on every connection
// once its name is resolved (a name that resolves to one address and then
// another, or a redirect, is checked again), unless the index itself is on
// a private network (a mirror on the local network, a test's registry on
// loopback): then the kinds of address the index is on are allowed too,
// and no other. A proxy from the environment is connected to as it is: it
// makes the connections itself.

// ErrAddressRefused: the registry sent the client to an address on the
// builder host's own network.
var ErrAddressRefused = errors.New("address on the builder host's network refused")

// maxRedirects bounds the redirects of one request.
const maxRedirects = 5

// addressKind says what network an address is on: "" for the public
// internet, else which of the builder host's networks.
func addressKind(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(a) {
		// NAT64: the IPv4 address it stands for.
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified(), a.Is4() && a.As4()[0] == 0:
		return "unspecified"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "multicast"
	case a.IsPrivate(), netip.MustParsePrefix("100.64.0.0/10").Contains(a), a.Is4() && a.As4()[0] >= 240:
		// RFC 1918, unique local IPv6, shared (carrier-grade NAT) and
		// reserved addresses.
		return "private"
	}
	return ""
}

// dialGuard decides which addresses a Client's connections may reach.
type dialGuard struct {
	index string // the index's host name or address

	mu      sync.Mutex
	allowed map[string]bool // address kinds the index is on; nil until known
}

// learn finds the kinds of address the index is on, once it can.
func (g *dialGuard) learn(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.allowed != nil {
		return nil
	}
	allowed := map[string]bool{}
	if a, err := netip.ParseAddr(g.index); err == nil {
		allowed[addressKind(a)] = true
	} else {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", g.index)
		if err != nil {
			return fmt.Errorf("resolve the registry's host %s: %w", g.index, err)
		}
		for _, a := range addrs {
			allowed[addressKind(a)] = true
		}
	}
	g.allowed = allowed
	return nil
}

// allows reports whether the index is on addresses of kind.
func (g *dialGuard) allows(kind string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.allowed[kind]
}

// control refuses a connection to an address of a kind the index is not on.
func (g *dialGuard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q is not an address", ErrAddressRefused, address)
	}
	if kind := addressKind(ap.Addr()); kind != "" && !g.allows(kind) {
		return fmt.Errorf("%w: %s is a %s address, and the registry's index is not on one", ErrAddressRefused, ap, kind)
	}
	return nil
}

// newHTTPClient is the client of the registry whose index is at index: its
// connections go through g, its redirects are bounded.
func newHTTPClient(index *url.URL) *http.Client {
	g := &dialGuard{index: index.Hostname()}
	proxies := proxyHosts()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	direct := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if proxies[addr] {
			return direct.DialContext(ctx, network, addr)
		}
		if err := g.learn(ctx); err != nil {
			return nil, err
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Timeout:   5 * time.Minute,
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			return nil
		},
	}
}

// proxyHosts are the host:port of the proxies the environment names
// (http.ProxyFromEnvironment's variables).
func proxyHosts() map[string]bool {
	out := map[string]bool{}
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		s := os.Getenv(v)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "socks5": "1080"}[u.Scheme]
			if port == "" {
				port = "80"
			}
		}
		out[net.JoinHostPort(u.Hostname(), port)] = true
	}
	return out
}
