package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EndpointsBucket says where the farm's shared services are, so that the
// commands that read them (report, logs, tail, web, archive) find them
// without being told: the components that use a service record its
// address there when they start, and flags override it.
const EndpointsBucket = "ejecta-endpoints"

// Endpoint keys in EndpointsBucket.
const (
	// EndpointStore is the object store's URL (file:///DIR or s3://...),
	// recorded by the reporter and by every uploader: where reports and
	// logs are.
	EndpointStore = "store"
	// EndpointWeb is the web UI's address as people reach it, recorded by
	// the reporter when it is told (--web-url) and by `ejecta up`.
	EndpointWeb = "web"
)

// endpointKeys are the keys EndpointsBucket may hold, and the URL schemes
// each accepts.
var endpointKeys = map[string][]string{
	EndpointStore: {"file", "s3"},
	EndpointWeb:   {"http", "https"},
}

// maxEndpointURL bounds an endpoint's URL.
const maxEndpointURL = 1024

// Endpoint is a service's address, kept in EndpointsBucket under its key.
type Endpoint struct {
	V   int    `json:"v"`
	URL string `json:"url"`
	// By is who recorded it: "reporter", "uploader NAME", "up".
	By      string    `json:"by"`
	Updated time.Time `json:"updated"`
}

// Validate checks e as the record of key and names the first bad field. The
// URL is one a reader may open or print: of the key's schemes, with no
// credentials (URLs end up in logs and terminals) and no control bytes.
func (e *Endpoint) Validate(key string) error {
	if e.V != SchemaVersion {
		return fmt.Errorf("endpoint %s: v=%d: %w", key, e.V, ErrSchemaVersion)
	}
	schemes, ok := endpointKeys[key]
	if !ok {
		return fmt.Errorf("endpoint %s: unknown key", Bounded(key))
	}
	if e.URL == "" || len(e.URL) > maxEndpointURL || strings.ContainsFunc(e.URL, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("endpoint %s: url %s: want 1 to %d printable bytes", key, Bounded(e.URL), maxEndpointURL)
	}
	u, err := url.Parse(e.URL)
	if err != nil || !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("endpoint %s: url %s: want a URL of scheme %s", key, Bounded(e.URL), strings.Join(schemes, " or "))
	}
	if u.User != nil {
		return fmt.Errorf("endpoint %s: url %s: credentials in the URL", key, Bounded(u.Redacted()))
	}
	if len(e.By) > 128 {
		return fmt.Errorf("endpoint %s: by %s: want at most 128 bytes", key, Bounded(e.By))
	}
	return nil
}

// RecordEndpoint puts e under key in EndpointsBucket, unless the bucket
// already holds the same URL from the same recorder.
func RecordEndpoint(ctx context.Context, js jetstream.JetStream, key string, e Endpoint) error {
	e.V = SchemaVersion
	if e.Updated.IsZero() {
		e.Updated = time.Now().UTC()
	}
	if err := e.Validate(key); err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, EndpointsBucket)
	if err != nil {
		return fmt.Errorf("open %s: %w", EndpointsBucket, err)
	}
	if old, err := lookupEndpoint(ctx, kv, key); err == nil && old.URL == e.URL && old.By == e.By {
		return nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record endpoint %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("record endpoint %s in %s: %w", key, EndpointsBucket, err)
	}
	return nil
}

// LookupEndpoint returns what EndpointsBucket holds under key; ErrNotFound
// if nothing valid, or the bucket does not exist (a farm from before it).
func LookupEndpoint(ctx context.Context, js jetstream.JetStream, key string) (Endpoint, error) {
	kv, err := js.KeyValue(ctx, EndpointsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return Endpoint{}, fmt.Errorf("endpoint %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("open %s: %w", EndpointsBucket, err)
	}
	return lookupEndpoint(ctx, kv, key)
}

func lookupEndpoint(ctx context.Context, kv jetstream.KeyValue, key string) (Endpoint, error) {
	entry, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Endpoint{}, fmt.Errorf("endpoint %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("read endpoint %s: %w", key, err)
	}
	var e Endpoint
	if err := json.Unmarshal(entry.Value(), &e); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %s: %w: %w", key, ErrNotFound, err)
	}
	if err := e.Validate(key); err != nil {
		return Endpoint{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return e, nil
}
