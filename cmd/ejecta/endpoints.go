package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
)

// Every command finds the store and the web UI from the running farm: the
// reporter and the uploaders record the store's URL (and the reporter the
// web UI's address, --web-url) in streams.EndpointsBucket when they start,
// and the commands that read them (report, logs, tail, archive, web,
// experiment retry --regressed) look them up there unless told.

// defaultStore is where logs and reports are when nothing says otherwise,
// for every command but `up`, which keeps its store under --data.
const defaultStore = "file:///var/lib/ejecta/store"

const storeUsage = "where logs and reports are: file:///DIR or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&secure=false; S3 credentials from EJECTA_S3_ACCESS_KEY/EJECTA_S3_SECRET_KEY, else the standard chain (AWS_* variables, ~/.aws/credentials, an IAM role)"

// storeFlag registers --store of a component that writes the store.
func storeFlag(fs *pflag.FlagSet, dst *string, def string) {
	fs.StringVar(dst, "store", def, storeUsage)
}

// readerStoreFlag registers --store of a command that reads the store.
func readerStoreFlag(fs *pflag.FlagSet, dst *string) {
	fs.StringVar(dst, "store", "", storeUsage+" (default: the store the farm's reporter and uploaders recorded, else "+defaultStore+")")
}

// webURLFlag registers --web-url, the web UI's address the reporter records.
func webURLFlag(fs *pflag.FlagSet, dst *string, def string) {
	fs.StringVar(dst, "web-url", def, "the web UI's address as people reach it, e.g. https://ejecta.example.org, recorded for 'ejecta report' to link logs to; empty: none")
}

// readerStore is the store a reading command uses: --store, else the one
// the farm recorded (js nil: not looked up), else the default.
func readerStore(ctx context.Context, js jetstream.JetStream, flag string) string {
	if flag != "" {
		return flag
	}
	if js != nil {
		if e, err := lookupEndpoint(ctx, js, streams.EndpointStore); err == nil {
			return e.URL
		}
	}
	return defaultStore
}

// lookupStore is --store, else the store the farm recorded, for a command
// that has no NATS connection of its own: it connects, read-only, to ask.
func (g *globals) lookupStore(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	js, done, err := g.reader(ctx, "text")
	if err != nil {
		return "", fmt.Errorf("no --store given, and the farm that would say where it is did not answer: %w", err)
	}
	defer done()
	return readerStore(ctx, js, ""), nil
}

// openReaderStore opens the store a reading command uses (lookupStore).
func (g *globals) openReaderStore(ctx context.Context, flag string) (store.Store, error) {
	u, err := g.lookupStore(ctx, flag)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, u)
}

// farmWebURL is the web UI's address the farm recorded; "" if none.
func farmWebURL(ctx context.Context, js jetstream.JetStream) string {
	if js == nil {
		return ""
	}
	e, err := lookupEndpoint(ctx, js, streams.EndpointWeb)
	if err != nil {
		return ""
	}
	return e.URL
}

func lookupEndpoint(ctx context.Context, js jetstream.JetStream, key string) (streams.Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return streams.LookupEndpoint(ctx, js, key)
}

// recordEndpoints records this component's endpoints (key: URL, "" left
// out) as by. A failure is only logged: a farm whose streams an older
// version ensured, or a role from before the bucket, still runs.
func recordEndpoints(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, by string, endpoints map[string]string) {
	for key, u := range endpoints {
		if u == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := streams.RecordEndpoint(rctx, js, key, streams.Endpoint{URL: u, By: by})
		cancel()
		if err != nil {
			log.Warn().Err(err).Str("endpoint", key).Str("url", u).
				Msg("recording where this service is for the CLI failed (run `ejecta streams ensure` and `auth init --force` after an upgrade); commands then need --store")
		}
	}
}

// checkWebURL refuses a --web-url that could not be recorded.
func checkWebURL(u string) error {
	if u == "" {
		return nil
	}
	e := streams.Endpoint{V: streams.SchemaVersion, URL: u}
	if err := e.Validate(streams.EndpointWeb); err != nil {
		return badInput(fmt.Errorf("--web-url: %w", err))
	}
	return nil
}

// upWebURL is the address of `up`'s web UI serving on addr: the host it
// listens on, or this host's name when it listens on every interface.
func upWebURL(addr string) string {
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			host = "localhost"
		}
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}).String()
}

func openStore(ctx context.Context, url string) (store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, badInput(fmt.Errorf("--store: %w", err))
	}
	return st, nil
}
