package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

func TestAddressKind(t *testing.T) {
	for addr, want := range map[string]string{
		"93.184.215.14": "", "2606:4700::1111": "", "192.0.2.2": "",
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "100.64.0.1": "private",
		"fd00:ec2::254": "private", "64:ff9b::10.0.0.1": "private", "240.0.0.1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local",
		"0.0.0.0": "unspecified", "0.1.2.3": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "255.255.255.255": "multicast",
	} {
		if got := addressKind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("addressKind(%s) = %q, want %q", addr, got, want)
		}
	}
}

// hostAddress is an address of this host that is not loopback, for a
// registry whose index is not on the loopback network.
func hostAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if kind := addressKind(p.Addr()); kind == "" || kind == "private" {
			return p.Addr().String()
		}
	}
	t.Skip("no address but loopback and link-local on this host")
	return ""
}

// A malicious registry (its index on a network other than loopback)
// names, in its config.json, an address on the builder host's loopback
// network: directly, through a redirect, or through a name that resolves
// there. The builder refuses to connect, and what its error says in the
// public build log holds nothing the internal service answered. Before,
// the builder fetched it and the log held its size and sha256.
func TestDownloadRefusesTheBuilderHostsNetwork(t *testing.T) {
	const secret = "role-name: farm-admin-prod\n"
	var reached atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		fmt.Fprint(w, secret)
	}))
	defer internal.Close()
	_, port, _ := net.SplitHostPort(internal.Listener.Addr().String())

	l, err := net.Listen("tcp", net.JoinHostPort(hostAddress(t), "0"))
	if err != nil {
		t.Skipf("listen on this host's address: %v", err)
	}
	var dl string
	var redirects atomic.Int64
	reg := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/index/config.json":
			fmt.Fprintf(w, `{"dl":%q}`, dl)
		case strings.HasPrefix(r.URL.Path, "/redirect/"):
			http.Redirect(w, r, internal.URL+"/latest/meta-data/iam/security-credentials/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/loop/"):
			redirects.Add(1)
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/junk/"):
			fmt.Fprint(w, secret)
		default:
			http.NotFound(w, r)
		}
	}))
	reg.Listener = l
	reg.Start()
	defer reg.Close()
	sum := sha256.Sum256([]byte(secret))
	secretSum := hex.EncodeToString(sum[:])

	for _, tc := range []struct {
		name, dl string
		refused  bool
	}{
		{"direct", internal.URL + "/{crate}", true},
		{"by name", "http://localhost:" + port + "/{crate}", true},
		{"redirected", reg.URL + "/redirect/{crate}", true},
		{"redirected for ever", reg.URL + "/loop/{crate}", false},
		{"served by the registry", reg.URL + "/junk/{crate}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dl = tc.dl
			reached.Store(0)
			c, err := NewClient("sparse+" + reg.URL + "/index/")
			if err != nil {
				t.Fatal(err)
			}
			cache, err := OpenCache(t.TempDir(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = cache.Fetch(context.Background(), c, Version{Name: "probe", Vers: "1.0.0", Cksum: strings.Repeat("0", 64)})
			if err == nil {
				t.Fatal("fetched")
			}
			if n := reached.Load(); n > 0 {
				t.Errorf("VULNERABLE: the builder made %d requests to a service on its loopback network the registry named", n)
			}
			if got := errors.Is(err, ErrAddressRefused); got != tc.refused {
				t.Errorf("refused at connection: %v, want %v (%v)", got, tc.refused, err)
			}
			// What the public build log says.
			for _, leak := range []string{secretSum, fmt.Sprintf("%d bytes", len(secret)), "302", "Found", "127.0.0.1:" + port, "meta-data"} {
				if strings.Contains(err.Error(), leak) && !strings.Contains(tc.dl, leak) {
					t.Errorf("VULNERABLE: the error for the public build log holds %q: %v", leak, err)
				}
			}
			// What the builder's own log says.
			var log bytes.Buffer
			logger := zerolog.New(&log)
			logger.Warn().Err(err).Msg("fetching crates failed")
			if tc.name == "served by the registry" {
				if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(log.String(), secretSum) {
					t.Errorf("a file that does not match: %v; the builder's log: %s", err, log.String())
				}
			}
			if !strings.Contains(log.String(), `"detail":`) {
				t.Errorf("the builder's log has no detail: %s", log.String())
			}
		})
	}
	if n := redirects.Load(); n > maxRedirects+1 {
		t.Errorf("followed %d redirects, want at most %d", n, maxRedirects)
	}
}
