package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ejecta-build/ejecta/streams"
)

// A log judged abandoned whose builder then finishes it is stored whole,
// byte for byte, over the abandoned start: from the store, the start; from
// the stream, the rest; checked against the end marker.
func TestAbandonedThenFinishedLogStoredWhole(t *testing.T) {
	for _, noPlain := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain log kept", true: "compressed log only"}[noPlain], func(t *testing.T) {
			e := newEnv(t)
			k := buildKey("late", "slow")
			data := randomBytes(100_000, 8)
			cs := chunks(data, 10_000)
			e.publishChunks(k, 1, cs[:4])

			cfg := fastConfig("u")
			cfg.SweepInterval = 200 * time.Millisecond
			cfg.AbandonAfter = time.Second
			cfg.NoPlainLog = noPlain
			e.run(cfg, e.st)
			eventually(t, 10*time.Second, "the silent start stored as abandoned and purged", func() bool {
				return e.logMsgs(k, 1) == 0 && abandonedMeta(t, e, k) != nil
			})
			abandoned := abandonedMeta(t, e, k)
			if abandoned.Bytes != 40_000 {
				t.Fatalf("abandoned start stored as %d bytes, want 40000", abandoned.Bytes)
			}

			// The builder was only slow: the rest, the end marker, the request.
			e.publishLog(k, 1, cs[4:], endFor(data, len(cs)))
			eventually(t, 10*time.Second, "the finished log stored", func() bool {
				m := abandonedMeta(t, e, k)
				return m == nil && e.streamMsgs(streams.UploadsStream) == 0
			})
			s := storedWhole(t, e, k, noPlain)
			if !bytes.Equal(s.raw, data) || (!noPlain && !bytes.Equal(s.plain, data)) {
				t.Errorf("stored %d bytes (plain %d), want the whole log of %d", len(s.raw), len(s.plain), len(data))
			}
			want := endFor(data, len(cs))
			if s.meta.Abandoned || s.meta.AbandonedReason != "" || s.meta.Status != want.Status || s.meta.ExitCode != want.ExitCode ||
				s.meta.Bytes != want.Bytes || s.meta.SHA256 != want.SHA256 || len(s.meta.Gaps) != 0 {
				t.Errorf("metadata: abandoned %v, %s exit %d, %d bytes, sha256 %s, gaps %v; want the end marker's %+v, not abandoned",
					s.meta.Abandoned, s.meta.Status, s.meta.ExitCode, s.meta.Bytes, s.meta.SHA256, s.meta.Gaps, want)
			}
			if !s.meta.FirstAt.Equal(abandoned.FirstAt) {
				t.Errorf("first_at %s, want the abandoned start's %s", s.meta.FirstAt, abandoned.FirstAt)
			}
			if !strings.Contains(s.page, "Finished: build-fail") || strings.Contains(s.page, "Abandoned") {
				t.Errorf("page does not show the finished log")
			}
			if n := e.logMsgs(k, 1); n != 0 {
				t.Errorf("%d messages of the log left on the stream", n)
			}
			if n := e.streamMsgs(streams.DeadStream); n != 0 {
				t.Errorf("%d dead letters", n)
			}
		})
	}
}

// When the stored abandoned start and the rest cannot be joined
// verifiably, the abandoned log stays as it is, nothing is stored over it,
// and the request is dead-lettered; the rest stays on the stream.
func TestUnstitchableAbandonedLogKept(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(e *env, k streams.BuildKey) // before the rest is published
		end    func(data []byte, n int) streams.LogEnd
	}{
		{"stored start differs from its metadata", func(e *env, k streams.BuildKey) {
			other := randomBytes(40_000, 9)
			if err := e.st.Put(context.Background(), objectKey(k, 1), bytes.NewReader(other), int64(len(other)), logContentType); err != nil {
				e.t.Fatal(err)
			}
		}, endFor},
		{"end marker does not vouch for the whole", nil, func(data []byte, n int) streams.LogEnd {
			end := endFor(data, n)
			end.SHA256 = strings.Repeat("0", 64)
			return end
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			k := buildKey("late", "slow")
			data := randomBytes(100_000, 8)
			cs := chunks(data, 10_000)
			e.publishChunks(k, 1, cs[:4])
			cfg := fastConfig("u")
			cfg.SweepInterval = 200 * time.Millisecond
			cfg.AbandonAfter = time.Second
			cfg.LenientAfter = 1
			e.run(cfg, e.st)
			eventually(t, 10*time.Second, "the silent start stored as abandoned", func() bool {
				return e.logMsgs(k, 1) == 0 && abandonedMeta(t, e, k) != nil
			})
			if tc.tamper != nil {
				tc.tamper(e, k)
			}
			before := storedLog(t, e.st, k, 1)

			e.publishLog(k, 1, cs[4:], tc.end(data, len(cs)))
			eventually(t, 10*time.Second, "the request dead-lettered", func() bool {
				return e.streamMsgs(streams.DeadStream) == 1 && e.streamMsgs(streams.UploadsStream) == 0
			})
			after := storedLog(t, e.st, k, 1)
			if !bytes.Equal(after.plain, before.plain) || !bytes.Equal(after.raw, before.raw) || after.page != before.page || !after.meta.Abandoned {
				t.Errorf("the abandoned log was replaced: %d bytes, abandoned %v", len(after.plain), after.meta.Abandoned)
			}
			if n := e.logMsgs(k, 1); n != uint64(len(cs)-4+1) {
				t.Errorf("%d messages left on the stream, want the rest of the log and its end marker", n)
			}
		})
	}
}

// abandonedMeta is the stored metadata of attempt 1 of k while it says
// abandoned, else nil.
func abandonedMeta(t *testing.T, e *env, k streams.BuildKey) *streams.LogMeta {
	t.Helper()
	rc, err := e.st.Get(context.Background(), streams.ExperimentPrefix(k.Experiment)+streams.LogMetaKey(k, 1))
	if err != nil {
		return nil
	}
	defer rc.Close()
	var m streams.LogMeta
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !m.Abandoned {
		return nil
	}
	return &m
}

// storedWhole is storedLog, without the plain log when none is kept.
func storedWhole(t *testing.T, e *env, k streams.BuildKey, noPlain bool) stored {
	t.Helper()
	if !noPlain {
		return storedLog(t, e.st, k, 1)
	}
	pfx := streams.ExperimentPrefix(k.Experiment)
	read := func(key string) []byte {
		t.Helper()
		rc, err := e.st.Get(context.Background(), pfx+key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return data
	}
	var s stored
	zr, err := zstd.NewReader(bytes.NewReader(read(streams.LogRawKey(k, 1))))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if s.raw, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	s.page = string(read(streams.LogPageKey(k, 1)))
	if err := json.Unmarshal(read(streams.LogMetaKey(k, 1)), &s.meta); err != nil {
		t.Fatal(err)
	}
	return s
}
