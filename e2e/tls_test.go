package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats.go"
)

// pki is a CA with certificates it signed, as PEM files in a directory.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newPKI(t *testing.T, dir, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: dir, caCert: ca, caKey: key}
	writePEM(t, p.file(name+"-ca.pem"), "CERTIFICATE", der)
	return p
}

func (p *pki) file(name string) string { return filepath.Join(p.dir, name) }

// issue writes name.pem and name-key.pem: a certificate on 127.0.0.1 for a
// server, a client, or both (a cluster node, which dials its routes).
func (p *pki) issue(t *testing.T, name string, serial int64, usage ...x509.ExtKeyUsage) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = p.file(name+".pem"), p.file(name+"-key.pem")
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, key, "EC PRIVATE KEY", kder)
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSRequiresVerifiedClientCertificates runs the server `ejecta auth
// init --server-tls-*` configures: it refuses plain connections, clients
// without a certificate and clients with a certificate from another CA, and
// serves ejecta's components that present theirs.
func TestTLSRequiresVerifiedClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, dir, "ejecta")
	serverCert, serverKey := ca.issue(t, "nats-server", 2, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "builder-host", 3, x509.ExtKeyUsageClientAuth)
	other := newPKI(t, dir, "other")
	strangerCert, strangerKey := other.issue(t, "stranger", 2, x509.ExtKeyUsageClientAuth)
	caFile := ca.file("ejecta-ca.pem")

	s := startAuthServer(t, &auth.ServerTLS{CertFile: serverCert, KeyFile: serverKey, CAFile: caFile})
	admin := s.credentials(t, streams.RoleAdmin)
	for _, c := range []struct {
		what string
		opts []nats.Option
	}{
		{"without TLS settings", nil},
		{"without a client certificate", []nats.Option{nats.RootCAs(caFile)}},
		{"with a certificate from another CA", []nats.Option{nats.RootCAs(caFile), nats.ClientCert(strangerCert, strangerKey)}},
	} {
		opts := append([]nats.Option{nats.UserInfo(admin.User, admin.Password), nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, c.opts...)
		nc, err := nats.Connect(s.url, opts...)
		if err == nil {
			nc.Close()
			t.Errorf("connect as admin %s: accepted", c.what)
			continue
		}
		t.Logf("connect as admin %s: refused: %v", c.what, err)
	}

	sec := streams.Security{CAFile: caFile, CertFile: clientCert, KeyFile: clientKey}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.Ensure(ctx, s.connect(t, streams.RoleAdmin, sec).js, streams.DefaultConfig()); err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	if testing.Short() {
		if err := streams.Lookup(ctx, s.connect(t, streams.RoleViewer, sec).js); err != nil {
			t.Fatalf("viewer over TLS: %v", err)
		}
		return
	}
	runAsRoles(t, s, sec, roleRun{exp: "tls", crates: "cfg-if", want: map[string]results.Class{"cfg-if": results.ClassSameTestPass}})
}
