package builder

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ejecta-build/ejecta/builder/sandbox"
	"github.com/ejecta-build/ejecta/buildlog"
	"github.com/ejecta-build/ejecta/streams"
)

// A builder signs the result and the upload request of a job that carries
// a ticket with it, and puts the MAC in their Nats-Msg-Ids; it never needs
// the key. A job without a ticket gets unsigned ones, as before.
func TestBuilderSignsWithTheJobsTicket(t *testing.T) {
	key, err := streams.NewJobKey()
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{step: func(context.Context, string, sandbox.Task) (sandbox.Exit, error) { return sandbox.Exit{}, nil }}
	signed, plain := fakeJob("signed", streams.ModeCheckOnly), fakeJob("plain", streams.ModeCheckOnly)
	key.SignJob(&signed)
	res, js := runFake(t, r, Config{}, 2, func(js jetstream.JetStream) {
		publishJob(t, js, signed)
		publishJob(t, js, plain)
	})
	for _, rs := range res {
		switch rs.Crate {
		case "signed":
			if err := key.VerifyResult(&rs); err != nil {
				t.Errorf("result of the ticketed job: %v", err)
			}
		case "plain":
			if rs.MAC != "" {
				t.Errorf("result of a job without a ticket signed: %q", rs.MAC)
			}
		}
	}
	ctx := context.Background()
	uploads, err := js.Stream(ctx, streams.UploadsStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []streams.BuildKey{signed.BuildKey, plain.BuildKey} {
		m, err := uploads.GetLastMsgForSubject(ctx, streams.UploadSubject(k, 1))
		if err != nil {
			t.Fatalf("upload request of %s: %v", k, err)
		}
		var up streams.UploadRequest
		if err := streams.Decode(m.Data, &up); err != nil {
			t.Fatal(err)
		}
		if want := streams.SignedMsgID(m.Subject, up.MAC); m.Header.Get(nats.MsgIdHdr) != want {
			t.Errorf("upload request of %s: Nats-Msg-Id %q, want %q", k, m.Header.Get(nats.MsgIdHdr), want)
		}
		if k == signed.BuildKey {
			if err := key.VerifyUpload(&up); err != nil {
				t.Errorf("upload request of the ticketed job: %v", err)
			}
		} else if up.MAC != "" {
			t.Errorf("upload request of a job without a ticket signed: %q", up.MAC)
		}
	}
	// Every message of the ticketed job's log, chunks and end marker, is
	// signed with its ticket; the other job's are not signed at all.
	logs, err := js.Stream(ctx, streams.LogsStream)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []streams.Job{signed, plain} {
		subj := streams.LogSubject(j.BuildKey, 1)
		n := 0
		for seq := uint64(1); ; seq++ {
			m, err := logs.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
			if err != nil {
				break
			}
			seq, n = m.Sequence, n+1
			switch ok := buildlog.Signed(subj, m.Header, m.Data, signed.Ticket); {
			case j.Ticket != "" && !ok:
				t.Errorf("%s: log message %d not signed with the job's ticket", j.Crate, m.Sequence)
			case j.Ticket == "" && m.Header.Get(buildlog.HdrMAC) != "":
				t.Errorf("%s: log message %d of a job without a ticket signed", j.Crate, m.Sequence)
			}
		}
		if n < 2 {
			t.Errorf("%s: %d log messages on the stream, want chunks and an end marker", j.Crate, n)
		}
	}
	// The result's Nats-Msg-Id carries its MAC: a forgery published ahead
	// on the same subject does not make the stream drop it.
	results, err := js.Stream(ctx, streams.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := results.GetLastMsgForSubject(ctx, streams.ResultSubject(signed.BuildKey, 1, streams.AnonymousSender))
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Header.Get(nats.MsgIdHdr); id == streams.ResultSubject(signed.BuildKey, 1, streams.AnonymousSender) {
		t.Errorf("signed result's Nats-Msg-Id %q is its bare subject", id)
	}
}
