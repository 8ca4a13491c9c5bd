package streams

import (
	"context"
	"fmt"

	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rolesServer starts a server whose users are the admin and the one
// builder user, with the permissions RolePermissions gives them, and
// returns a way to connect as either.
func rolesServer(t *testing.T) func(user, pass string, role Role) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	perms := func(r Role) *server.Permissions {
		p, err := RolePermissions(r)
		if err != nil {
			t.Fatal(err)
		}
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p.Publish},
			Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{
			{Username: "admin", Password: "a", Permissions: perms(RoleAdmin)},
			{Username: "builder", Password: "b", Permissions: perms(RoleBuilder)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return func(user, pass string, role Role) (*nats.Conn, jetstream.JetStream) {
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(user, pass), nats.CustomInboxPrefix(InboxPrefix(role)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return nc, js
	}
}

// Builders may publish on "$JS.ACK.*.*.EJECTA_JOBS.*.>", meant for the
// new (v2) form of the jobs consumers' ack subjects. A 9-token subject
// "$JS.ACK.EJECTA_UPLOADS.uploaders.EJECTA_JOBS.<sseq>.<dseq>.<ts>.<pending>"
// matches that pattern too, and the server reads it in the old (v1) form:
// an ack of the uploaders' consumer, stream sequence <sseq> (the delivery
// count, "EJECTA_JOBS", is not checked). A builder credential thereby
// acks, terms or naks any upload request an uploader holds, spraying the
// sequences it cannot see: a request given back for a retry (a store
// outage, a hole) would be removed from the work queue, and its log, whose
// last message is an end marker, never asked for again by the sweep. The
// new form's pattern is held to 11 tokens or more (pullFrom).
func TestBuildersCannotAckUploadRequests(t *testing.T) {
	connect := rolesServer(t)
	ctx := context.Background()
	_, admin := connect("admin", "a", RoleAdmin)
	if err := Ensure(ctx, admin, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	// An uploader holds an upload request, given back for a retry later.
	k := BuildKey{Experiment: "tix", Crate: "alpha", Version: "1.0.0", Toolchain: "nightly"}
	if _, err := admin.Publish(ctx, UploadSubject(k, 1), []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	cons, err := admin.Consumer(ctx, UploadsStream, UploadersConsumer)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.NakWithDelay(time.Minute); err != nil {
		t.Fatal(err)
	}

	s, err := admin.Stream(ctx, UploadsStream)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if info, err := s.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("before the attack: %v, want the request held", err)
	}

	// The attacker, as the builder user, sprays acks.
	spy, _ := connect("builder", "b", RoleBuilder)
	for sseq := 1; sseq <= 10; sseq++ {
		subj := fmt.Sprintf("$JS.ACK.%s.%s.%s.%d.1.0.0", UploadsStream, UploadersConsumer, JobsStream, sseq)
		if err := spy.Publish(subj, []byte("+TERM")); err != nil {
			t.Fatal(err)
		}
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		t.Errorf("a builder credential removed an upload request held by an uploader from the work queue, through an old-form ack subject its permissions allow")
	}
}

// Builders ack their own jobs, in whatever form the server gives the ack
// subject.
func TestBuildersAckTheirJobs(t *testing.T) {
	connect := rolesServer(t)
	ctx := context.Background()
	_, admin := connect("admin", "a", RoleAdmin)
	if err := Ensure(ctx, admin, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	rec := Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"}, Mode: ModeCheckOnly,
		CrateSource: "/src", Crates: 1, Jobs: 2}
	if err := EnsureJobsConsumers(ctx, admin, &rec); err != nil {
		t.Fatal(err)
	}
	k := BuildKey{Experiment: "tix", Crate: "alpha", Version: "1.0.0", Toolchain: "nightly"}
	if _, err := admin.Publish(ctx, JobSubject(k), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_, js := connect("builder", "b", RoleBuilder)
	cons, err := js.Consumer(ctx, JobsStream, JobsConsumer("tix", "nightly"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ack subject %s", msg.Reply())
	if err := msg.InProgress(); err != nil {
		t.Fatal(err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Errorf("builder's ack of its job: %v", err)
	}
}
