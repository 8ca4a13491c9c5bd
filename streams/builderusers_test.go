package streams

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ensuredUsersServer is usersServer with the admin and users, and the
// streams ensured by the admin, whose connection it returns too.
func ensuredUsersServer(t *testing.T, users ...string) (func(user string) (jetstream.JetStream, *nats.Conn, func() []string), jetstream.JetStream) {
	t.Helper()
	connect := usersServer(t, append([]string{string(RoleAdmin)}, users...)...)
	admin, _, _ := connect(string(RoleAdmin))
	if err := Ensure(context.Background(), admin, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	return connect, admin
}

// usersServer starts a server whose users have the permissions
// UserPermissions gives them (all with password "pw"), and returns a way
// to connect as one of them the way ejecta does (Security.Options), with
// the connection's permission errors.
func usersServer(t *testing.T, users ...string) func(user string) (jetstream.JetStream, *nats.Conn, func() []string) {
	t.Helper()
	var su []*server.User
	for _, u := range users {
		p, err := UserPermissions(u)
		if err != nil {
			t.Fatal(err)
		}
		su = append(su, &server.User{Username: u, Password: "pw", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: p.Publish},
			Subscribe: &server.SubjectPermission{Allow: p.Subscribe},
		}})
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, Users: su})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return func(user string) (jetstream.JetStream, *nats.Conn, func() []string) {
		opts, err := Security{User: user, Password: "pw"}.Options()
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var denied []string
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			defer mu.Unlock()
			denied = append(denied, err.Error())
		}))
		nc, err := nats.Connect(s.ClientURL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js, nc, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), denied...)
		}
	}
}

// With a user per builder host, a job another builder fetches, ticket
// included, is delivered to that builder's own inbox: another builder can
// subscribe neither there nor to every builder's inboxes, and sees nothing
// of it, while each builder fetches and acks its own jobs.
func TestBuilderHostsCannotReadEachOthersJobs(t *testing.T) {
	a, b := BuilderUser("host-a"), BuilderUser("host-b")
	connect, admin := ensuredUsersServer(t, a, b)
	ctx := context.Background()
	rec := Experiment{V: 1, Name: "tix", Toolchains: []string{"stable", "nightly"}, Mode: ModeCheckOnly, CrateSource: "/src", Crates: 1, Jobs: 2}
	if err := EnsureJobsConsumers(ctx, admin, &rec); err != nil {
		t.Fatal(err)
	}
	k := BuildKey{Experiment: "tix", Crate: "alpha", Version: "1.0.0", Toolchain: "nightly"}
	if _, err := admin.Publish(ctx, JobSubject(k), []byte(`{"ticket":"secret-ticket"}`)); err != nil {
		t.Fatal(err)
	}

	_, spy, denied := connect(b)
	var seen []string
	var mu sync.Mutex
	for _, subj := range []string{UserInboxPrefix(a) + ".>", InboxPrefix(RoleBuilder) + ".>", "_INBOX_>", ">"} {
		if _, err := spy.Subscribe(subj, func(m *nats.Msg) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, m.Subject+" "+string(m.Data))
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}

	js, _, _ := connect(a)
	cons, err := js.Consumer(ctx, JobsStream, JobsConsumer("tix", "nightly"))
	if err != nil {
		t.Fatalf("builder %s looks up its consumer: %v", a, err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("builder %s fetches a job: %v", a, err)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Errorf("builder %s acks its job: %v", a, err)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "secret-ticket") {
			t.Errorf("builder %s read the job %s fetched: %s", b, a, s)
		}
	}
	if len(seen) > 0 {
		t.Errorf("builder %s received %d messages meant for others: %q", b, len(seen), seen)
	}
	if d := denied(); len(d) < 4 {
		t.Errorf("want a permissions violation for each of the 4 subscriptions, got %q", d)
	}
}

// Builder host names become a user name, a subject token and a file name.
func TestBuilderUsers(t *testing.T) {
	for _, c := range []struct {
		user    string
		role    Role
		wantErr string
	}{
		{"builder", RoleBuilder, ""},
		{"builder-host-a", RoleBuilder, ""},
		{"reporter", RoleReporter, ""},
		{"builder-", "", "want 1 to 64"},
		{"builder-Host", "", "a-z, 0-9"},
		{"builder-a.b", "", "a-z, 0-9"},
		{"builder-a>", "", "a-z, 0-9"},
		{"builder-" + strings.Repeat("x", 65), "", "want 1 to 64"},
		{"builderx", "", "want one of"},
	} {
		role, err := UserRole(c.user)
		switch {
		case c.wantErr == "" && (err != nil || role != c.role):
			t.Errorf("UserRole(%q) = %q, %v; want %q", c.user, role, err, c.role)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("UserRole(%q) = %q, %v; want an error saying %q", c.user, role, err, c.wantErr)
		}
	}
	p, err := UserPermissions(BuilderUser("host-a"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subscribe[0] != "_INBOX_builder-host-a.>" {
		t.Errorf("a builder host's inboxes: %q, want its own", p.Subscribe[0])
	}
}

// A builder publishes results only under its own user's name, so the
// reporter knows which builder each came from, whatever the body says.
func TestBuildersPublishResultsOnlyAsThemselves(t *testing.T) {
	a, b := BuilderUser("host-a"), BuilderUser("host-b")
	shared := string(RoleBuilder)
	connect := usersServer(t, string(RoleAdmin), a, b, shared)
	ctx := context.Background()
	admin, _, _ := connect(string(RoleAdmin))
	if err := Ensure(ctx, admin, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	k := BuildKey{Experiment: "tix", Crate: "alpha", Version: "1.0.0", Toolchain: "nightly"}
	legacy := strings.TrimSuffix(ResultSubject(k, 1, a), "."+a)
	for _, c := range []struct {
		user, subject string
		allowed       bool
	}{
		{a, ResultSubject(k, 1, a), true},
		{b, ResultSubject(k, 2, b), true},
		{shared, ResultSubject(k, 3, shared), true},
		{b, ResultSubject(k, 4, a), false},
		{b, ResultSubject(k, 4, AnonymousSender), false},
		{b, ResultSubject(k, 4, shared), false},
		{shared, ResultSubject(k, 4, a), false},
		{b, legacy, false},
	} {
		js, _, _ := connect(c.user)
		wait := time.Second // for the acknowledgement a denied publish never gets
		if c.allowed {
			wait = 10 * time.Second
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		_, err := js.Publish(pctx, c.subject, []byte("{}"))
		cancel()
		if c.allowed && err != nil {
			t.Errorf("%s publishes on %s: %v", c.user, c.subject, err)
		}
		if !c.allowed && err == nil {
			t.Errorf("%s published on %s, another sender's subject", c.user, c.subject)
		}
	}
}

// A builder user keeps its heartbeat under its own name only: it cannot
// overwrite, fake or delete another builder's.
func TestBuildersWriteOnlyTheirOwnHeartbeats(t *testing.T) {
	a, b := BuilderUser("host-a"), BuilderUser("host-b")
	connect, admin := ensuredUsersServer(t, a, b)
	ctx := context.Background()
	for _, c := range []struct {
		user, key string
		allowed   bool
	}{
		{a, HeartbeatKey(a, "a1"), true},
		{b, HeartbeatKey(b, "b1"), true},
		{b, HeartbeatKey(a, "a1"), false},
		{b, HeartbeatKey(AnonymousSender, "b1"), false},
		{b, "b1", false}, // a key without a sender
	} {
		js, _, _ := connect(c.user)
		kv, err := js.KeyValue(ctx, BuildersBucket)
		if err != nil {
			t.Fatal(err)
		}
		wait := time.Second // for the acknowledgement a denied put never gets
		if c.allowed {
			wait = 10 * time.Second
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		_, err = kv.Put(pctx, c.key, []byte(`{"id":"forged"}`))
		if !c.allowed && err == nil {
			err = kv.Delete(pctx, c.key)
		}
		cancel()
		if c.allowed && err != nil {
			t.Errorf("%s writes %s: %v", c.user, c.key, err)
		}
		if !c.allowed && err == nil {
			t.Errorf("%s wrote or deleted %s, another builder's heartbeat", c.user, c.key)
		}
	}
	// What a was allowed to write is still a's.
	kv, err := admin.KeyValue(ctx, BuildersBucket)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, HeartbeatKey(a, "a1")); err != nil || string(e.Value()) != `{"id":"forged"}` || e.Revision() != 1 {
		t.Errorf("a's heartbeat after b's attempts: %v, %v", e, err)
	}
}

func TestParseHeartbeatKey(t *testing.T) {
	for _, c := range []struct {
		key, sender, id, err string
	}{
		{HeartbeatKey(BuilderUser("host-a"), "a1"), BuilderUser("host-a"), "a1", ""},
		{HeartbeatKey(AnonymousSender, "b_2"), AnonymousSender, "b_2", ""},
		{"legacy-id", "", "legacy-id", ""},
		{"nobody.a1", "", "", "sender \"nobody\""},
		{"builder-a.bad.id", "", "", "builder id"},
		{"builder-a.", "", "", "builder id"},
	} {
		sender, id, err := ParseHeartbeatKey(c.key)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseHeartbeatKey(%q): %v, want an error naming %s", c.key, err, c.err)
			}
			continue
		}
		if err != nil || sender != c.sender || id != c.id {
			t.Errorf("ParseHeartbeatKey(%q) = %q, %q, %v; want %q, %q", c.key, sender, id, err, c.sender, c.id)
		}
	}
}
