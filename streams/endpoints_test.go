package streams_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/streams"
)

// An endpoint is recorded once per change and read back as it was; what a
// reader would open or print is checked on the way in and out.
func TestEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := testenv.StartNATS(t).Connect(t)
	if _, err := streams.LookupEndpoint(ctx, js, streams.EndpointStore); !errors.Is(err, streams.ErrNotFound) {
		t.Fatalf("lookup before the bucket exists: %v, want ErrNotFound", err)
	}
	if err := streams.Ensure(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.LookupEndpoint(ctx, js, streams.EndpointStore); !errors.Is(err, streams.ErrNotFound) {
		t.Fatalf("lookup of nothing: %v, want ErrNotFound", err)
	}
	rec := streams.Endpoint{URL: "s3://logs/ejecta?endpoint=minio:9000&secure=false", By: "reporter"}
	for range 2 {
		if err := streams.RecordEndpoint(ctx, js, streams.EndpointStore, rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := streams.LookupEndpoint(ctx, js, streams.EndpointStore)
	if err != nil || got.URL != rec.URL || got.By != "reporter" || got.Updated.IsZero() {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	kv, _ := js.KeyValue(ctx, streams.EndpointsBucket)
	if e, err := kv.Get(ctx, streams.EndpointStore); err != nil || e.Revision() != 1 {
		t.Errorf("the same endpoint recorded twice: revision %v, %v; want it written once", e, err)
	}

	for _, tc := range []struct {
		key, url, want string
	}{
		{streams.EndpointStore, "http://example.org/", "want a URL of scheme file or s3"},
		{streams.EndpointWeb, "file:///srv", "want a URL of scheme http or https"},
		{streams.EndpointStore, "s3://key:secret@bucket", "credentials in the URL"},
		{streams.EndpointWeb, "http://host/\x1b]0;title\x07", "printable"},
		{streams.EndpointWeb, "", "printable"},
		{"other", "http://host", "unknown key"},
	} {
		err := streams.RecordEndpoint(ctx, js, tc.key, streams.Endpoint{URL: tc.url, By: "test"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("record %s %q: %v, want %q", tc.key, tc.url, err, tc.want)
		}
	}
	// What someone else put there unchecked is not handed on.
	if _, err := kv.Put(ctx, streams.EndpointWeb, []byte(`{"v":1,"url":"javascript:alert(1)","by":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if e, err := streams.LookupEndpoint(ctx, js, streams.EndpointWeb); !errors.Is(err, streams.ErrNotFound) {
		t.Errorf("lookup of a bad record: %+v, %v; want ErrNotFound", e, err)
	}
}

// The reporter may record both endpoints, an uploader the store only, and
// the viewer and producer read them.
func TestEndpointPermissions(t *testing.T) {
	ctx := context.Background()
	var users []*server.User
	for _, role := range streams.Roles {
		p, err := streams.RolePermissions(role)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, &server.User{Username: string(role), Password: "pw-" + string(role), Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: p.Publish}, Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}})
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	connect := func(role streams.Role) jetstream.JetStream {
		opts, err := streams.Security{User: string(role), Password: "pw-" + string(role)}.Options()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.ClientURL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	if err := streams.Ensure(ctx, connect(streams.RoleAdmin), streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	record := func(role streams.Role, key, url string) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return streams.RecordEndpoint(ctx, connect(role), key, streams.Endpoint{URL: url, By: string(role)})
	}
	for _, tc := range []struct {
		role    streams.Role
		key     string
		allowed bool
	}{
		{streams.RoleReporter, streams.EndpointStore, true},
		{streams.RoleReporter, streams.EndpointWeb, true},
		{streams.RoleUploader, streams.EndpointStore, true},
		{streams.RoleUploader, streams.EndpointWeb, false},
		{streams.RoleViewer, streams.EndpointStore, false},
		{streams.RoleBuilder, streams.EndpointStore, false},
		{streams.RoleProducer, streams.EndpointWeb, false},
	} {
		url := "file:///srv/" + string(tc.role)
		if tc.key == streams.EndpointWeb {
			url = "https://" + string(tc.role) + ".example.org/"
		}
		if err := record(tc.role, tc.key, url); (err == nil) != tc.allowed {
			t.Errorf("%s records %s: %v, want allowed %v", tc.role, tc.key, err, tc.allowed)
		}
	}
	for _, role := range []streams.Role{streams.RoleViewer, streams.RoleProducer} {
		if e, err := streams.LookupEndpoint(ctx, connect(role), streams.EndpointStore); err != nil || e.URL != "file:///srv/uploader" {
			t.Errorf("%s reads the store endpoint: %+v, %v", role, e, err)
		}
	}
}
