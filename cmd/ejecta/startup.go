package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ejecta-build/ejecta/backoff"
	"github.com/ejecta-build/ejecta/store"
)

// Long-running components (builder, uploader, reporter, web) may start
// before NATS, before an admin ran `ejecta streams ensure`, or before the
// store: under compose, systemd or a host reboot nothing orders them. They
// wait with backoff.Startup's back-off, logging each try, and stop only at an
// error waiting cannot mend.

// connectWait is connect, retried until NATS answers and the streams exist
// or ctx ends.
func (g *globals) connectWait(ctx context.Context, name string, log zerolog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	var nc *nats.Conn
	var js jetstream.JetStream
	err := backoff.Do(ctx, backoff.Startup, func(ctx context.Context) error {
		var err error
		nc, js, err = g.connect(ctx, name, log)
		if err != nil && !natsTransient(err) {
			return backoff.Permanent(err)
		}
		return err
	}, waiting(log, "NATS and its streams"))
	return nc, js, err
}

// openStoreWait is openStore, retried until the store answers or ctx
// ends. A URL that does not parse, or a store that refuses the credentials,
// is not waited for.
func openStoreWait(ctx context.Context, url string, log zerolog.Logger) (store.Store, error) {
	if err := store.CheckURL(url); err != nil {
		return nil, badInput(fmt.Errorf("--store: %w", err))
	}
	var st store.Store
	err := backoff.Do(ctx, backoff.Startup, func(ctx context.Context) error {
		var err error
		st, err = store.Open(ctx, url)
		if store.Refused(err) {
			return backoff.Permanent(badInput(fmt.Errorf("--store: %w", err)))
		}
		return err
	}, waiting(log, "the store"))
	return st, err
}

// waiting logs a failed try at reaching what.
func waiting(log zerolog.Logger, what string) func(int, error, time.Duration) {
	return func(n int, err error, wait time.Duration) {
		log.Warn().Err(err).Int("try", n).Dur("retry_in", wait).Msg("waiting for " + what)
	}
}

// natsTransient says whether waiting may mend err, an error of connect:
// a server not up yet, a cluster without a JetStream leader yet, streams
// not ensured yet may; a bad flag, a refused password or certificate, a
// permission the role lacks may not.
func natsTransient(err error) bool {
	var ue usageError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ue),
		errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired),
		errors.Is(err, nats.ErrPermissionViolation),
		errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return false
	}
	return true
}
