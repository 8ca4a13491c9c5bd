package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ejecta-build/ejecta/auth"
	"github.com/ejecta-build/ejecta/internal/testenv"
	"github.com/ejecta-build/ejecta/internal/testfarm"
	"github.com/ejecta-build/ejecta/logsearch"
	"github.com/ejecta-build/ejecta/logtail"
	"github.com/ejecta-build/ejecta/producer"
	"github.com/ejecta-build/ejecta/reporter"
	"github.com/ejecta-build/ejecta/results"
	"github.com/ejecta-build/ejecta/status"
	"github.com/ejecta-build/ejecta/store"
	"github.com/ejecta-build/ejecta/streams"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// authServer is a nats-server running in this process on the very
// configuration `ejecta auth init` wrote.
type authServer struct {
	url string
	dir string // where auth.Init wrote the config and credentials
	log zerolog.Logger
	// builders are the builder hosts given a user each (auth init
	// --builders); the builder connects as the first one's.
	builders []string
}

// startAuthServer writes a configuration with auth.Init (TLS when tls is
// set, a user per builder host when builders are named), parses it as
// nats-server does and starts a server on it.
func startAuthServer(t *testing.T, tls *auth.ServerTLS, builders ...string) *authServer {
	t.Helper()
	dir := t.TempDir()
	if err := auth.Init(auth.Options{Dir: dir, Listen: "127.0.0.1:4222", StoreDir: t.TempDir(), TLS: tls, Builders: builders}); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, auth.ServerConfigFile))
	if err != nil {
		t.Fatalf("nats-server rejects the generated config: %v", err)
	}
	opts.Port = -1 // any free port: tests run side by side
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready after 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return &authServer{url: s.ClientURL(), dir: dir, log: log, builders: builders}
}

// ensure connects as the admin and ensures the streams, as `ejecta
// streams ensure` does before any component runs.
func (s *authServer) ensure(ctx context.Context, t *testing.T) *roleClient {
	t.Helper()
	admin := s.connect(t, streams.RoleAdmin, streams.Security{})
	if err := streams.Ensure(ctx, admin.js, streams.DefaultConfig()); err != nil {
		t.Fatalf("admin ensures the streams: %v", err)
	}
	return admin
}

// roleClient is a connection as one role that records every error the
// server reports asynchronously, which is how refused publishes show.
type roleClient struct {
	role streams.Role
	nc   *nats.Conn
	js   jetstream.JetStream

	mu     sync.Mutex
	errors []error
}

func (s *authServer) credentials(t *testing.T, role streams.Role) streams.Security {
	t.Helper()
	file := auth.CredentialsFile(role)
	if role == streams.RoleBuilder && len(s.builders) > 0 {
		file = auth.UserCredentialsFile(streams.BuilderUser(s.builders[0]))
	}
	c, err := auth.ReadCredentials(filepath.Join(s.dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return streams.Security{User: c.User, Password: c.Password}
}

// jobKey is the job key in role's credentials file (zero if none).
func (s *authServer) jobKey(t *testing.T, role streams.Role) streams.JobKey {
	t.Helper()
	c, err := auth.ReadCredentials(filepath.Join(s.dir, auth.CredentialsFile(role)))
	if err != nil {
		t.Fatal(err)
	}
	return c.JobKey
}

// connect connects as role with sec's TLS settings (its user and password
// are the role's).
func (s *authServer) connect(t *testing.T, role streams.Role, sec streams.Security) *roleClient {
	t.Helper()
	creds := s.credentials(t, role)
	sec.User, sec.Password = creds.User, creds.Password
	opts, err := sec.Options()
	if err != nil {
		t.Fatal(err)
	}
	c := &roleClient{role: role}
	opts = append(opts, nats.Timeout(10*time.Second), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.errors = append(c.errors, err)
	}))
	if c.nc, err = streams.Connect(s.url, "test-"+string(role), s.log, opts...); err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(c.nc.Close)
	if c.js, err = jetstream.New(c.nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// try does a, and reports whether the server refused it
// with a permissions violation naming a.subject, and its error. A refused request gets no
// answer, so it is cancelled as soon as the violation is reported.
func (c *roleClient) try(ctx context.Context, a action) (refused bool, err error) {
	c.mu.Lock()
	c.errors = nil
	c.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.do(actx, c.js) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				return false, nil
			}
			return c.refusedWithin(a.subject, time.Second), err
		case <-tick.C:
			if c.refusedWithin(a.subject, 0) {
				cancel()
				return true, <-done
			}
		}
	}
}

func (c *roleClient) refusedWithin(subject string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		for _, err := range c.errors {
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject) {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// violations lists the permission errors the server reported.
func (c *roleClient) violations() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []error
	for _, err := range c.errors {
		if errors.Is(err, nats.ErrPermissionViolation) {
			out = append(out, err)
		}
	}
	return out
}

var probeKey = streams.BuildKey{Experiment: "roles", Crate: "cfg-if", Version: "1.0.0", Toolchain: "stable"}

// Actions a role might try; each names the subject the server must refuse.
type action struct {
	what    string
	subject string // prefix of the refused subject
	do      func(ctx context.Context, js jetstream.JetStream) error
}

func publishTo(what, subj string) action {
	return action{what, subj, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.Publish(ctx, subj, []byte(`{"v":1}`))
		return err
	}}
}

func corePublish(what, subj string) action {
	return action{what + " (core publish)", subj, func(ctx context.Context, js jetstream.JetStream) error {
		if err := js.Conn().Publish(subj, []byte("x")); err != nil {
			return err
		}
		if err := js.Conn().FlushWithContext(ctx); err != nil {
			return err
		}
		return errors.New("refused asynchronously")
	}}
}

// subscribe is a core subscription to subj: refused, it is reported
// asynchronously like a core publish.
func subscribe(what, subj string) action {
	return action{what, subj, func(ctx context.Context, js jetstream.JetStream) error {
		sub, err := js.Conn().SubscribeSync(subj)
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
		if err := js.Conn().FlushWithContext(ctx); err != nil {
			return err
		}
		return errors.New("refused asynchronously")
	}}
}

func kvPut(bucket string) action {
	return action{"write bucket " + bucket, "$KV." + bucket + ".", func(ctx context.Context, js jetstream.JetStream) error {
		kv, err := js.KeyValue(ctx, bucket)
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, "probe", []byte("x"))
		return err
	}}
}

// putHeartbeat writes a builder's heartbeat as user sender.
func putHeartbeat(what, sender string) action {
	key := streams.HeartbeatKey(sender, "probe")
	return action{what, "$KV." + streams.BuildersBucket + "." + key, func(ctx context.Context, js jetstream.JetStream) error {
		kv, err := js.KeyValue(ctx, streams.BuildersBucket)
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, key, []byte("{}"))
		return err
	}}
}

var (
	// A builder keeps its heartbeat under its own user's name only.
	putOthersHeartbeat = putHeartbeat("write another builder's heartbeat", streams.BuilderUser("other"))
	publishJob         = publishTo("publish a job", streams.JobSubject(probeKey))
	publishLog         = publishTo("publish a log chunk", streams.LogSubject(probeKey, 1))
	publishResult      = publishTo("publish a result", streams.ResultSubject(probeKey, 1, string(streams.RoleBuilder)))
	// A builder publishes results under its own user's name only, which
	// tells the reporter who sent each.
	publishOthersResult = publishTo("publish a result as another builder", streams.ResultSubject(probeKey, 1, streams.BuilderUser("other")))
	publishUpload       = publishTo("publish an upload request", streams.UploadSubject(probeKey, 1))
	// Only uploaders judge a log abandoned: a builder asking would have
	// another builder's live log stored as it stands and purged.
	publishAbandoned = publishTo("ask to store a log as abandoned", streams.AbandonedUploadSubject(probeKey, 1))
	publishDead      = publishTo("publish a dead letter", streams.DeadSubject(probeKey.Experiment, streams.AnonymousSender))
	// Dead letters go under their sender's name: a flood by one stays
	// within its own subject's bound.
	publishOthersDead = publishTo("publish a dead letter as another builder", streams.DeadSubject(probeKey.Experiment, streams.BuilderUser("other")))
	// A job's body holds its ticket: only the builder that fetches the
	// job may read it, and the viewer never.
	subscribeJobs = subscribe("receive every job as it is queued", "ejecta.jobs.>")
	readJob       = action{"read a queued job", "$JS.API.STREAM.MSG.GET." + streams.JobsStream, func(ctx context.Context, js jetstream.JetStream) error {
		s, err := js.Stream(ctx, streams.JobsStream)
		if err != nil {
			return err
		}
		_, err = s.GetLastMsgForSubject(ctx, streams.JobSubject(probeKey))
		return err
	}}
	createStream = action{"create a stream", "$JS.API.STREAM.CREATE.EVIL", func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
		return err
	}}
	updateJobs = action{"update the jobs stream", "$JS.API.STREAM.UPDATE." + streams.JobsStream, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: streams.JobsStream, Subjects: []string{"ejecta.jobs.>"}, Retention: jetstream.WorkQueuePolicy, MaxMsgs: 1})
		return err
	}}
	deleteLogs = action{"delete the logs stream", "$JS.API.STREAM.DELETE." + streams.LogsStream, func(ctx context.Context, js jetstream.JetStream) error {
		return js.DeleteStream(ctx, streams.LogsStream)
	}}
	purgeLogs = action{"purge log chunks", "$JS.API.STREAM.PURGE." + streams.LogsStream, func(ctx context.Context, js jetstream.JetStream) error {
		s, err := js.Stream(ctx, streams.LogsStream)
		if err != nil {
			return err
		}
		return s.Purge(ctx)
	}}
	consumeJobs = action{"create a consumer on the jobs stream", "$JS.API.CONSUMER.CREATE." + streams.JobsStream, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.CreateConsumer(ctx, streams.JobsStream, jetstream.ConsumerConfig{Durable: "thief", AckPolicy: jetstream.AckExplicitPolicy})
		return err
	}}
	takeUpload = action{"take an upload request", "$JS.API.CONSUMER.INFO." + streams.UploadsStream, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.Consumer(ctx, streams.UploadsStream, streams.UploadersConsumer)
		return err
	}}
)

// readReplies are what a role would subscribe to to read the replies other
// roles get: every inbox, and the admin's.
var readReplies = []action{
	subscribe("read every inbox", "_INBOX.>"),
	subscribe("read the admin's inboxes", streams.InboxPrefix(streams.RoleAdmin)+".>"),
}

// forbidden is, per role, what the server must refuse it, besides
// readReplies.
var forbidden = map[streams.Role][]action{
	streams.RoleBuilder: {publishJob, publishAbandoned, publishOthersResult, publishOthersDead, subscribeJobs, createStream, updateJobs, deleteLogs, consumeJobs,
		kvPut(streams.ExperimentsBucket), kvPut(streams.ProgressBucket), kvPut(streams.BuildersBucket), putOthersHeartbeat, takeUpload},
	streams.RoleProducer: {publishLog, publishResult, publishUpload, publishAbandoned, publishDead, purgeLogs, createStream,
		kvPut(streams.ProgressBucket), kvPut(streams.BuildersBucket), takeUpload},
	streams.RoleUploader: {publishJob, publishLog, publishResult, publishUpload, publishOthersDead, subscribeJobs, readJob, createStream, deleteLogs, consumeJobs,
		kvPut(streams.ExperimentsBucket)},
	// The reporter queues re-runs (streams.RerunSubject), never a first run.
	streams.RoleReporter: {publishJob, publishLog, publishResult, publishUpload, publishAbandoned, publishOthersDead, purgeLogs, createStream, consumeJobs,
		kvPut(streams.ExperimentsBucket), kvPut(streams.BuildersBucket)},
	streams.RoleViewer: {publishJob, publishLog, publishResult, publishUpload, publishAbandoned, publishDead,
		corePublish("publish a log chunk", streams.LogSubject(probeKey, 2)),
		subscribeJobs, readJob, createStream, updateJobs, deleteLogs, purgeLogs, consumeJobs, takeUpload,
		kvPut(streams.ExperimentsBucket), kvPut(streams.BuildersBucket), kvPut(streams.ProgressBucket)},
}

// TestRolesForbiddenActionsAreRefused connects as each role to a server
// started on the configuration `ejecta auth init` writes and checks that
// the server refuses every action outside the role, and that nothing the
// refused action would have changed did change.
func TestRolesForbiddenActionsAreRefused(t *testing.T) {
	s := startAuthServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := s.ensure(ctx, t)
	for _, role := range streams.Roles {
		if role == streams.RoleAdmin {
			continue
		}
		c := s.connect(t, role, streams.Security{})
		// Every role may check the streams exist; it may not create them.
		if err := streams.Lookup(ctx, c.js); err != nil {
			t.Errorf("%s: look up streams: %v", role, err)
		}
		for _, a := range append(forbidden[role], readReplies...) {
			refused, err := c.try(ctx, a)
			if err == nil {
				t.Errorf("%s may %s: the server accepted it", role, a.what)
				continue
			}
			if !refused {
				t.Errorf("%s: %s failed (%v) but the server reported no permissions violation on %s", role, a.what, err, a.subject)
			}
		}
	}
	// Nothing refused left a trace.
	if _, err := admin.js.Stream(ctx, "EVIL"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stream EVIL: %v, want not found", err)
	}
	for _, stream := range []string{streams.JobsStream, streams.LogsStream, streams.ResultsStream, streams.UploadsStream, streams.DeadStream} {
		st, err := admin.js.Stream(ctx, stream)
		if err != nil {
			t.Fatalf("stream %s after the refused actions: %v", stream, err)
		}
		if n := st.CachedInfo().State.Msgs; n != 0 {
			t.Errorf("stream %s holds %d messages after only refused publishes", stream, n)
		}
		if stream == streams.JobsStream && st.CachedInfo().Config.MaxMsgs == 1 {
			t.Errorf("stream %s was updated by a role", stream)
		}
	}
	for _, b := range []string{streams.ExperimentsBucket, streams.BuildersBucket, streams.ProgressBucket} {
		kv, err := admin.js.KeyValue(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, "probe"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("bucket %s key probe: %v, want not found", b, err)
		}
	}
	if _, err := admin.js.Consumer(ctx, streams.JobsStream, "thief"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Errorf("consumer thief on %s: %v, want not found", streams.JobsStream, err)
	}
	// What the reporter may publish instead of a job: a re-run.
	reporter := s.connect(t, streams.RoleReporter, streams.Security{})
	if _, err := reporter.js.Publish(ctx, streams.RerunSubject(probeKey), []byte("{}")); err != nil {
		t.Errorf("reporter queues a re-run: %v", err)
	}
}

// TestBuilderLearnsOfJobsWithoutTheirBodies checks the builder's wake-up
// under the generated permissions: it may follow the notices the jobs
// stream republishes, which carry a job's subject and no body.
func TestBuilderLearnsOfJobsWithoutTheirBodies(t *testing.T) {
	s := startAuthServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.ensure(ctx, t)
	b := s.connect(t, streams.RoleBuilder, streams.Security{})
	sub, err := b.nc.SubscribeSync(streams.JobsQueuedFilter)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	p := s.connect(t, streams.RoleProducer, streams.Security{})
	if _, err := p.js.Publish(ctx, streams.JobSubject(probeKey), []byte(`{"v":1,"ticket":"not for builders"}`)); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("builder got no notice of the job: %v (refused: %v)", err, b.violations())
	}
	if len(m.Data) != 0 || m.Header.Get("Nats-Subject") != streams.JobSubject(probeKey) {
		t.Errorf("notice on %s: data %q, subject header %q", m.Subject, m.Data, m.Header.Get("Nats-Subject"))
	}
	if v := b.violations(); len(v) != 0 {
		t.Errorf("builder refused: %v", v)
	}
}

// TestRolesWrongPasswordIsRefused tries every role with a wrong password
// and with no credentials at all.
func TestRolesWrongPasswordIsRefused(t *testing.T) {
	s := startAuthServer(t, nil)
	for _, role := range streams.Roles {
		_, err := nats.Connect(s.url, nats.UserInfo(string(role), "wrong"), nats.MaxReconnects(0))
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("%s with a wrong password: %v, want an authorization violation", role, err)
		}
	}
	if _, err := nats.Connect(s.url, nats.MaxReconnects(0)); err == nil {
		t.Error("connect without credentials: accepted")
	}
}

// TestRolesLookupWithoutStreamsNamesTheFix checks what a component running
// as a role says when nobody ran `ejecta streams ensure`.
func TestRolesLookupWithoutStreamsNamesTheFix(t *testing.T) {
	s := startAuthServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := s.connect(t, streams.RoleBuilder, streams.Security{})
	err := streams.Lookup(ctx, c.js)
	if !errors.Is(err, streams.ErrNotEnsured) || !strings.Contains(err.Error(), "ejecta streams ensure") {
		t.Fatalf("lookup before ensure: %v, want ErrNotEnsured naming `ejecta streams ensure`", err)
	}
	if v := c.violations(); len(v) != 0 {
		t.Errorf("lookup needed forbidden subjects: %v", v)
	}
}

// TestRolesRunAnExperiment runs a real experiment with every component on
// its own role: the producer creates it, a builder builds it in containerd,
// an uploader stores the logs, the reporter confirms a regression with a
// re-run (re-run jobs are the reporter's to publish) and a viewer follows
// it. No component may hit a permissions violation on the way. The builder
// connects as a builder host's own user.
func TestRolesRunAnExperiment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: slow")
	}
	s := startAuthServer(t, nil, "host-a", "host-b")
	runAsRoles(t, s, streams.Security{}, roleRun{exp: "roles", crates: "cfg-if,ejecta-demo-regress",
		want: map[string]results.Class{"cfg-if": results.ClassSameTestPass, "ejecta-demo-regress": results.ClassRegressed}})
}

// roleRun is an experiment runAsRoles runs.
type roleRun struct {
	exp, crates string
	// want is every crate's class in the final report.
	want map[string]results.Class
}

// runAsRoles runs experiment rr with each component connected as its role
// (with sec's TLS settings) and checks every crate's class, that every
// build is counted once, every stored log and that no role was refused
// anything.
func runAsRoles(t *testing.T, s *authServer, sec streams.Security, rr roleRun) {
	t.Helper()
	exp, want := rr.exp, rr.want
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	clients := map[streams.Role]*roleClient{}
	for _, role := range streams.Roles {
		clients[role] = s.connect(t, role, sec)
	}
	// Only the admin creates streams; every other role looks them up.
	if err := streams.Ensure(ctx, clients[streams.RoleAdmin].js, streams.DefaultConfig()); err != nil {
		t.Fatalf("admin ensures the streams: %v", err)
	}
	for role, c := range clients {
		if err := streams.Lookup(ctx, c.js); err != nil {
			t.Fatalf("%s looks up the streams: %v", role, err)
		}
	}
	st, err := store.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The job key as auth init gave it to each role that holds it: the
	// experiment's results and logs count only when signed by the builder.
	key := s.jobKey(t, streams.RoleProducer)
	for _, role := range []streams.Role{streams.RoleReporter, streams.RoleUploader} {
		if s.jobKey(t, role).Encode() != key.Encode() {
			t.Fatalf("%s has another job key than the producer", role)
		}
	}
	log := s.log
	testfarm.Start(t, ctx, testfarm.Config{
		Name: "roles", Namespace: testenv.ContainerdNamespace(t), BuilderConn: clients[streams.RoleBuilder].nc,
		UploaderConn: clients[streams.RoleUploader].nc, ReporterConn: clients[streams.RoleReporter].nc,
		Store: st, Reporter: reporter.Config{Debounce: 200 * time.Millisecond}, Log: log, JobKey: key,
	})

	// A refused request only times out: fail on the violation instead.
	go func() {
		for ctx.Err() == nil {
			if v := clients[streams.RoleProducer].violations(); len(v) != 0 {
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if _, err := producer.New(clients[streams.RoleProducer].js, log, producer.WithJobKey(key)).Create(ctx, producer.Request{
		Name: exp, Toolchains: []string{"stable", "nightly"}, Mode: string(streams.ModeCheckOnly),
		Crates: rr.crates, CrateSource: testenv.CrateRegistry(t),
	}); err != nil {
		t.Fatalf("producer creates %s: %v (refused: %v)", exp, err, clients[streams.RoleProducer].violations())
	}

	// The viewer follows the experiment until it is finished.
	viewer := clients[streams.RoleViewer].js
	deadline := time.Now().Add(8 * time.Minute)
	for {
		// A request in flight when its server dies is never answered:
		// each look gets a deadline of its own.
		sctx, scancel := context.WithTimeout(ctx, lookTimeout)
		stat, err := status.Get(sctx, viewer, exp)
		scancel()
		if err == nil && stat.Finished() {
			break
		}
		for role, c := range clients {
			if v := c.violations(); len(v) != 0 {
				t.Fatalf("%s was refused what it needs: %v", role, v)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not finished in time: %+v, %v", exp, stat, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	var f results.File
	for {
		data, err := readObject(ctx, t, st, results.Key(exp))
		if err == nil {
			f = results.File{}
			err = json.Unmarshal([]byte(data), &f)
		}
		if err == nil && f.DoneJobs == f.TotalJobs && len(f.Crates) == len(want) && !slices.ContainsFunc(f.Crates, func(c results.CrateResult) bool {
			return c.Confirmation == results.ConfirmationPending
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("results.json of %s not complete in time: %+v, %v", exp, f, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if f.DoneJobs != 2*len(want) || f.TotalJobs != 2*len(want) {
		t.Errorf("results.json: %d of %d jobs done, want %d of %d", f.DoneJobs, f.TotalJobs, 2*len(want), 2*len(want))
	}
	for _, c := range f.Crates {
		if len(c.Results) != 2 {
			t.Errorf("%s: %d results, want one per toolchain: %+v", c.Name, len(c.Results), c.Results)
		}
		if c.Class != want[c.Name] {
			t.Errorf("%s: class %q, want %q", c.Name, c.Class, want[c.Name])
		}
		for _, res := range c.Results {
			// A log may be stored a moment after its result is counted.
			var text string
			var err error
			for stored := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
				text, err = readObject(ctx, t, st, streams.ExperimentPrefix(exp)+res.Log)
				if err == nil || time.Now().After(stored) || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				t.Errorf("%s on %s: log %s not stored: %v", c.Name, res.Toolchain, res.Log, err)
			} else if c.Class != want[c.Name] {
				t.Logf("%s on %s: %s (%s), log:\n%s", c.Name, res.Toolchain, res.Status, res.Reason, text)
			}
		}
	}
	// What the viewer's commands read: builders, attempts, the list.
	if hb, err := status.Builders(ctx, viewer); err != nil || len(hb) != 1 {
		t.Errorf("viewer: builders = %+v, %v; want the one builder", hb, err)
	}
	if atts, err := logtail.Attempts(ctx, viewer, exp); err != nil || len(atts) == 0 {
		t.Errorf("viewer: attempts of %s = %+v, %v", exp, atts, err)
	}
	if list, err := status.List(ctx, viewer); err != nil || len(list) != 1 || !list[0].Tickets {
		t.Errorf("viewer: experiments = %+v, %v; want the one, with tickets", list, err)
	}
	// What a person does after the run, as the viewer: find a line in
	// every stored log, and read a stored log with each line's time.
	hits := map[string]bool{}
	if _, err := logsearch.Search(ctx, st, logsearch.StreamLogs{JS: viewer, Reader: logtail.New(viewer, st)}, exp,
		logsearch.Query{Pattern: regexp.MustCompile(`(?m)(Checking|Compiling) cfg-if`)}, func(h logsearch.Hits) error {
			hits[h.Toolchain] = true
			return nil
		}); err != nil || !hits["stable"] || !hits["nightly"] {
		t.Errorf("viewer: search for cfg-if being checked found it on %v (%v), want both toolchains", hits, err)
	}
	for _, c := range f.Crates {
		r := c.Results[0]
		var times timesSeen
		k := streams.BuildKey{Experiment: exp, Crate: c.Name, Version: c.Version, Toolchain: r.Toolchain}
		if res, err := logtail.New(viewer, st).Copy(ctx, k, r.Attempt, &times, logtail.Options{}); err != nil || !res.Stored || times.timed == 0 {
			t.Errorf("viewer: stored log of %s: %+v, %v, %d timed writes; want it stored with its times", k, res, err, times.timed)
		}
	}
	// The report against itself: nothing changed class.
	if d, err := results.CompareStored(ctx, st, exp, exp); err != nil || len(d.Changes) != 0 || d.Same != len(want) {
		t.Errorf("%s compared with itself: %+v, %v; want %d crates the same", exp, d, err, len(want))
	}
	for role, c := range clients {
		if v := c.violations(); len(v) != 0 {
			t.Errorf("%s was refused what it needs: %v", role, v)
		}
	}
	// Deleted (by the admin: it purges every stream), it leaves nothing in the
	// store.
	if _, err := producer.New(clients[streams.RoleAdmin].js, log).Delete(ctx, exp, true); err != nil {
		t.Fatalf("delete %s: %v", exp, err)
	}
	if n, err := producer.DeleteStored(ctx, st, exp); err != nil || n == 0 {
		t.Errorf("stored objects of %s deleted: %d, %v; want its logs and report", exp, n, err)
	}
	for o, err := range st.List(ctx, streams.ExperimentPrefix(exp)) {
		t.Errorf("left in the store after delete: %s %v", o.Key, err)
	}
}

// timesSeen counts the writes of a log that came with a time.
type timesSeen struct{ timed int }

func (w *timesSeen) Write(p []byte) (int, error) { return len(p), nil }

func (w *timesSeen) WriteTimed(p []byte, at time.Time) (int, error) {
	if !at.IsZero() {
		w.timed++
	}
	return len(p), nil
}
